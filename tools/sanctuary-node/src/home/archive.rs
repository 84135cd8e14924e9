//! The export archive: a plain tar file (ustar) holding `home.json` and each file as
//! `files/<hash>`, readable with `tar tf`. Written and read here, bounded: at most
//! [`ENTRIES_MAX`] entries of at most [`ENTRY_MAX`] bytes each.

use anyhow::{Context, bail, ensure};

const BLOCK: usize = 512;
/// Most entries read from an archive.
pub const ENTRIES_MAX: usize = 100_000;
/// Largest entry read from an archive.
pub const ENTRY_MAX: u64 = 1 << 30;

/// Appends one file named `name` holding `bytes`.
pub fn append(archive: &mut Vec<u8>, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    ensure!(
        name.len() < 100 && name.is_ascii(),
        "archive entry name {name:?} is too long"
    );
    let mut header = [0u8; BLOCK];
    header[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut header[100..108], 0o644);
    octal(&mut header[108..116], 0);
    octal(&mut header[116..124], 0);
    octal(&mut header[124..136], bytes.len() as u64);
    octal(&mut header[136..148], 0);
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].fill(b' ');
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    octal(&mut header[148..155], u64::from(sum));
    archive.extend_from_slice(&header);
    archive.extend_from_slice(bytes);
    archive.resize(archive.len().next_multiple_of(BLOCK), 0);
    Ok(())
}

/// Ends the archive (two empty blocks).
pub fn finish(archive: &mut Vec<u8>) {
    archive.extend_from_slice(&[0; 2 * BLOCK]);
}

/// Writes `value` as zero-padded octal digits ending in a NUL, filling `field`.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

fn read_octal(field: &[u8]) -> anyhow::Result<u64> {
    let text: String = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    u64::from_str_radix(text.trim(), 8).context("a damaged number in the archive")
}

/// The files in an archive, by name, in order. Anything but plain files is skipped;
/// damage is an error that names it.
pub fn read(archive: &[u8]) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut entries = Vec::new();
    let mut at = 0;
    while at + BLOCK <= archive.len() {
        let header = &archive[at..at + BLOCK];
        if header.iter().all(|&b| b == 0) {
            return Ok(entries);
        }
        ensure!(
            entries.len() < ENTRIES_MAX,
            "the archive holds more than {ENTRIES_MAX} entries"
        );
        let stored = read_octal(&header[148..156])?;
        let sum: u64 = header
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    u64::from(b' ')
                } else {
                    u64::from(b)
                }
            })
            .sum();
        ensure!(
            stored == sum,
            "the archive is damaged at byte {at} (a header's checksum)"
        );
        let name: String = String::from_utf8_lossy(&header[..100])
            .trim_end_matches('\0')
            .to_owned();
        let size = read_octal(&header[124..136])?;
        ensure!(size <= ENTRY_MAX, "{name} is too large ({size} bytes)");
        let start = at + BLOCK;
        let end = start + size as usize;
        if end > archive.len() {
            bail!("the archive is cut short inside {name}");
        }
        if matches!(header[156], b'0' | 0) {
            entries.push((name, archive[start..end].to_vec()));
        }
        at = start + (size as usize).next_multiple_of(BLOCK);
    }
    bail!("the archive is cut short (no end marker)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_and_damage_is_named() {
        let mut archive = Vec::new();
        append(&mut archive, "home.json", b"{}").unwrap();
        append(&mut archive, "files/abc", &vec![7; 1000]).unwrap();
        finish(&mut archive);
        let entries = read(&archive).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0], ("home.json".to_owned(), b"{}".to_vec()));
        assert_eq!(entries[1].1, vec![7; 1000]);
        let mut damaged = archive.clone();
        damaged[10] ^= 1;
        assert!(read(&damaged).unwrap_err().to_string().contains("checksum"));
        assert!(
            read(&archive[..700])
                .unwrap_err()
                .to_string()
                .contains("cut short")
        );
    }
}
