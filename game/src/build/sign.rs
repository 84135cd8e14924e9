//! The text of a sign, painted on its board: laid out in lines as large as the board
//! allows, drawn with the client's built-in font into a texture that covers both faces.

use bevy::asset::RenderAssetUsages;
use bevy::image::Image;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use swash::FontRef;
use swash::scale::{Render, ScaleContext, Source};
use swash::zeno::Format;

/// Pixels a metre of board gets, up to [`LONG_SIDE_PX`] along its longer side.
const PX_PER_M: f32 = 400.0;

/// Most pixels along a board's longer side.
const LONG_SIDE_PX: f32 = 512.0;

/// Most lines a sign's text is laid out in, when its words allow (a long word may need a
/// line of its own beyond that).
const LINES_MAX: usize = 6;

/// The share of the board's width and height that text may cover (the rest is margin).
const FILL: f32 = 0.88;

/// The ink that reads on a board of `board` colour (sRGB bytes): near black on light boards,
/// near white on dark ones.
pub fn ink_for(board: [u8; 3]) -> [u8; 3] {
    let [r, g, b] = board.map(f32::from);
    let luma = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    if luma > 110.0 {
        [20, 16, 12]
    } else {
        [245, 242, 235]
    }
}

/// A picture of `text` for a board `width_m` by `height_m`: `ink` where the letters are,
/// transparent elsewhere.
pub fn sign_image(text: &str, width_m: f32, height_m: f32, ink: [u8; 3]) -> Image {
    let (width, height) = texture_size(width_m, height_m);
    let pixels = paint(text, width, height, ink);
    Image::new(
        Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        pixels,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD,
    )
}

/// The texture's size for a board of that size: [`PX_PER_M`], or fewer so that the longer
/// side has at most [`LONG_SIDE_PX`].
fn texture_size(width_m: f32, height_m: f32) -> (u32, u32) {
    let (width_m, height_m) = (width_m.max(0.01), height_m.max(0.01));
    let per_m = PX_PER_M.min(LONG_SIDE_PX / width_m.max(height_m));
    let side = |m: f32| ((m * per_m).round() as u32).clamp(8, LONG_SIDE_PX as u32);
    (side(width_m), side(height_m))
}

/// The font's measures that layout needs, per pixel of font size.
struct Measures {
    /// Every glyph's advance (the font is monospaced).
    advance: f32,
    /// From the top of a line to its baseline.
    ascent: f32,
    /// From one line's top to the next's.
    line: f32,
}

fn measures(font: FontRef) -> Measures {
    let metrics = font.metrics(&[]);
    let em = f32::from(metrics.units_per_em.max(1));
    let advance = font.glyph_metrics(&[]).advance_width(font.charmap().map('M')) / em;
    Measures {
        advance: if advance > 0.0 { advance } else { 0.6 },
        ascent: metrics.ascent / em,
        line: (metrics.ascent + metrics.descent + metrics.leading) / em,
    }
}

/// `text` broken into lines at spaces, each at most `width` characters where the words
/// allow (a longer word keeps a line of its own).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines
}

/// The lines and font size (pixels) that show `text` largest within `width` by `height`
/// pixels.
fn layout(text: &str, width: f32, height: f32, measures: &Measures) -> (Vec<String>, f32) {
    let chars = text.chars().count().max(1);
    let mut best = (Vec::new(), 0.0);
    for lines_wanted in 1..=LINES_MAX {
        let lines = wrap(text, chars.div_ceil(lines_wanted));
        let longest = lines.iter().map(|line| line.chars().count()).max().unwrap_or(1);
        let by_width = width * FILL / (longest as f32 * measures.advance);
        let by_height = height * FILL / (lines.len() as f32 * measures.line);
        let size = by_width.min(by_height);
        if size > best.1 {
            best = (lines, size);
        }
    }
    best
}

/// RGBA pixels, `width` by `height`, row by row from the top: `text` in `ink`, centred,
/// on transparency.
pub fn paint(text: &str, width: u32, height: u32, ink: [u8; 3]) -> Vec<u8> {
    let mut pixels = vec![0u8; width as usize * height as usize * 4];
    for pixel in pixels.chunks_exact_mut(4) {
        pixel[..3].copy_from_slice(&ink);
    }
    let Some(font) = FontRef::from_index(bevy::text::DEFAULT_FONT_DATA, 0) else {
        return pixels;
    };
    let measures = measures(font);
    let (lines, size) = layout(text, width as f32, height as f32, &measures);
    if lines.is_empty() || size < 1.0 {
        return pixels;
    }
    let mut context = ScaleContext::new();
    let mut scaler = context.builder(font).size(size).hint(true).build();
    let mut render = Render::new(&[Source::Outline]);
    render.format(Format::Alpha);
    let block = lines.len() as f32 * measures.line * size;
    let top = (height as f32 - block) / 2.0;
    for (row, line) in lines.iter().enumerate() {
        let baseline = top + (row as f32 * measures.line + measures.ascent) * size;
        let line_width = line.chars().count() as f32 * measures.advance * size;
        let mut pen = (width as f32 - line_width) / 2.0;
        for ch in line.chars() {
            let glyph = font.charmap().map(ch);
            if let Some(image) = render.render(&mut scaler, glyph) {
                let left = pen.round() as i32 + image.placement.left;
                let top = baseline.round() as i32 - image.placement.top;
                blit(
                    &mut pixels,
                    width,
                    height,
                    &image.data,
                    image.placement.width,
                    left,
                    top,
                );
            }
            pen += measures.advance * size;
        }
    }
    pixels
}

/// Adds a glyph's coverage (`glyph_width` wide, one byte a pixel) into the alpha of
/// `pixels` at (`left`, `top`), clipped to the picture.
fn blit(pixels: &mut [u8], width: u32, height: u32, coverage: &[u8], glyph_width: u32, left: i32, top: i32) {
    if glyph_width == 0 {
        return;
    }
    for (y, row) in coverage.chunks_exact(glyph_width as usize).enumerate() {
        let py = top + y as i32;
        if py < 0 || py >= height as i32 {
            continue;
        }
        for (x, &alpha) in row.iter().enumerate() {
            let px = left + x as i32;
            if px < 0 || px >= width as i32 {
                continue;
            }
            let at = (py as usize * width as usize + px as usize) * 4 + 3;
            pixels[at] = pixels[at].max(alpha);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows and columns (first and last) that hold ink, if any.
    fn inked(pixels: &[u8], width: u32) -> Option<((usize, usize), (usize, usize))> {
        let mut rows = (usize::MAX, 0);
        let mut columns = (usize::MAX, 0);
        for (index, pixel) in pixels.chunks_exact(4).enumerate() {
            if pixel[3] > 128 {
                let (x, y) = (index % width as usize, index / width as usize);
                rows = (rows.0.min(y), rows.1.max(y));
                columns = (columns.0.min(x), columns.1.max(x));
            }
        }
        (rows.0 != usize::MAX).then_some((rows, columns))
    }

    /// How many separate bands of inked rows there are: one per line of text.
    fn bands(pixels: &[u8], width: u32) -> usize {
        let row_inked: Vec<bool> = pixels
            .chunks_exact(width as usize * 4)
            .map(|row| row.chunks_exact(4).any(|pixel| pixel[3] > 128))
            .collect();
        row_inked.windows(2).filter(|pair| !pair[0] && pair[1]).count() + usize::from(row_inked[0])
    }

    #[test]
    fn a_word_is_painted_large_in_the_middle_of_the_board() {
        let (width, height) = texture_size(0.6, 0.3);
        assert_eq!((width, height), (240, 120));
        let pixels = paint("Welcome", width, height, [10, 20, 30]);
        let ((top, bottom), (left, right)) = inked(&pixels, width).expect("ink");
        assert!(right - left > width as usize / 2, "wide: {left}..{right}");
        assert!(bottom - top > height as usize / 5, "tall: {top}..{bottom}");
        let middle = |a: usize, b: usize, side: u32| ((a + b) as f32 / 2.0 - side as f32 / 2.0).abs();
        assert!(middle(left, right, width) < 12.0, "centred across");
        assert!(middle(top, bottom, height) < 30.0, "centred up and down");
        assert!(left > 10 && right < width as usize - 10, "a margin");
        assert_eq!(&pixels[..3], &[10, 20, 30], "in the ink's colour");
        assert_eq!(bands(&pixels, width), 1);
    }

    #[test]
    fn a_long_text_is_broken_into_lines_that_fit() {
        let text = "Market opens at dusk, bring your own lantern and something to trade";
        let (width, height) = texture_size(1.0, 1.0);
        let pixels = paint(text, width, height, [0, 0, 0]);
        let ((top, bottom), (left, right)) = inked(&pixels, width).expect("ink");
        assert!(bands(&pixels, width) >= 3, "several lines");
        assert!(top > 5 && bottom < height as usize - 5 && left > 5 && right < width as usize - 5);
        for line in wrap(text, 20) {
            assert!(line.chars().count() <= 20, "{line:?}");
        }
        assert_eq!(wrap(text, 20).join(" "), text);
    }

    #[test]
    fn an_empty_text_paints_nothing_and_ink_reads_on_its_board() {
        let pixels = paint("   ", 64, 32, [0, 0, 0]);
        assert!(inked(&pixels, 64).is_none());
        assert_eq!(ink_for([240, 230, 200]), [20, 16, 12]);
        assert_eq!(ink_for([30, 40, 60]), [245, 242, 235]);
        let image = sign_image("Hi", 2.0, 0.5, [0, 0, 0]);
        assert_eq!((image.width(), image.height()), (512, 128));
    }
}
