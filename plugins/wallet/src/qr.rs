//! The address as a QR code, drawn with egui's painter (dark modules on a light quiet zone),
//! in the EIP-681 form wallets scan: `ethereum:0x…@chain`.

use sanctuary_plugin_api::egui;
use sanctuary_wallet_core::Address;

/// Modules of light border around the code, as scanners expect.
const QUIET_ZONE: usize = 2;

/// The text the code carries for `address` on `chain_id`.
pub fn payment_uri(address: Address, chain_id: u64) -> String {
    format!("ethereum:{address}@{chain_id}")
}

/// The code's modules, row by row (`true` is dark), and its width; `None` if the text is
/// too long for a QR code (an address never is).
pub fn modules(text: &str) -> Option<(Vec<bool>, usize)> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let width = code.width();
    let dark = code
        .to_colors()
        .into_iter()
        .map(|color| color == qrcode::Color::Dark)
        .collect();
    Some((dark, width))
}

/// Draws the code for `text`, `side` points wide.
pub fn draw(ui: &mut egui::Ui, text: &str, side: f32) {
    let Some((dark, width)) = modules(text) else {
        ui.label("(no QR code)");
        return;
    };
    let (rect, _) = ui.allocate_exact_size(egui::vec2(side, side), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, egui::Color32::WHITE);
    let cells = (width + 2 * QUIET_ZONE) as f32;
    let module = side / cells;
    for (index, _) in dark.iter().enumerate().filter(|(_, dark)| **dark) {
        let (row, column) = (index / width, index % width);
        let min = rect.min
            + egui::vec2(
                (column + QUIET_ZONE) as f32 * module,
                (row + QUIET_ZONE) as f32 * module,
            );
        painter.rect_filled(
            egui::Rect::from_min_size(min, egui::vec2(module, module)),
            0.0,
            egui::Color32::BLACK,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_makes_a_square_code_with_finder_patterns() {
        let uri = payment_uri(Address::repeat_byte(0x42), 31337);
        assert!(uri.starts_with("ethereum:0x4242") && uri.ends_with("@31337"));
        let (dark, width) = modules(&uri).unwrap();
        assert_eq!(dark.len(), width * width);
        // Every QR code has a 7x7 finder pattern in its top-left corner: a dark ring.
        assert!((0..7).all(|i| dark[i] && dark[i * width] && dark[6 * width + i] && dark[i * width + 6]));
        assert!(!dark[width + 1], "the ring's inside is light");
        assert_ne!(modules("another text").unwrap().0, dark);
    }
}
