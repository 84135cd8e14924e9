//! A space's building records on disk: an append-only file of checked frames.
//!
//! Each frame is the record's length (4 bytes little-endian), the first 4 bytes of its
//! BLAKE3 hash, then the [`SignedRecord`] bytes. Records are appended and the file is
//! synced to the disk before they are shown or sent, so a process killed at any moment
//! loses at most a frame that was being written, and nobody saw that edit applied.
//!
//! On opening, an unfinished last frame is cut off (that write never completed). A frame
//! that is complete but wrong (the checksum or the record does not match) means the file
//! was damaged: it is set aside as `<name>.broken` (or `.broken-2`, ...) with a message,
//! and a new file holds the records read before the damage. The file is rewritten with only
//! the newest record of each thing when it holds many times more frames than that.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sanctuary_protocols::build::SignedRecord;

/// Bytes before each record.
const FRAME_HEADER: usize = 8;

/// Largest record accepted from the file; anything longer is damage.
const RECORD_MAX: usize = 4096;

/// What was read from a space's file.
pub(crate) struct Loaded {
    /// The file, open for appending.
    pub log: RecordLog,
    /// The records, in the order they were written.
    pub records: Vec<SignedRecord>,
    /// Something the person should be told (a damaged file set aside).
    pub notice: Option<String>,
}

/// One space's record file, open for appending.
pub(crate) struct RecordLog {
    path: PathBuf,
    file: File,
    /// Frames in the file.
    frames: usize,
    /// Held locked while the file is open here, so that no other process (or world in
    /// this one) appends to it or rewrites it at the same time.
    _lock: File,
}

impl RecordLog {
    /// Opens (or creates) the file at `path` and reads every record in it.
    pub fn open(path: &Path) -> io::Result<Loaded> {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path.with_extension("lock"))?;
        if lock.try_lock().is_err() {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "{} is in use by another Sanctuary using the same data folder",
                    path.display()
                ),
            ));
        }
        let mut bytes = Vec::new();
        match File::open(path) {
            Ok(mut file) => {
                file.read_to_end(&mut bytes)?;
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
        let (records, end, damaged) = read_frames(&bytes);
        let mut notice = None;
        if damaged {
            let aside = set_aside(path)?;
            let message = format!(
                "the building file {} was damaged: it was set aside as {} and the {} records before the damage were kept",
                path.display(),
                aside.display(),
                records.len()
            );
            tracing::warn!("{message}");
            notice = Some(message);
            write_all_synced(path, &records)?;
        } else if end < bytes.len() {
            tracing::info!(path = %path.display(), "cut off an unfinished last record");
            let file = OpenOptions::new().write(true).open(path)?;
            file.set_len(end as u64)?;
            file.sync_all()?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Loaded {
            log: Self {
                path: path.to_owned(),
                file,
                frames: records.len(),
                _lock: lock,
            },
            records,
            notice,
        })
    }

    /// Appends `records` and waits until the disk has them.
    pub fn append(&mut self, records: &[SignedRecord]) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::new();
        for record in records {
            push_frame(&mut bytes, record);
        }
        self.file.write_all(&bytes)?;
        self.file.sync_data()?;
        self.frames += records.len();
        Ok(())
    }

    /// Frames in the file, superseded ones included.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Rewrites the file with only `records` (beside it, then renamed over it).
    pub fn compact<'a>(&mut self, records: impl Iterator<Item = &'a SignedRecord>) -> io::Result<()> {
        let records: Vec<SignedRecord> = records.cloned().collect();
        write_all_synced(&self.path, &records)?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.frames = records.len();
        Ok(())
    }
}

fn push_frame(bytes: &mut Vec<u8>, record: &SignedRecord) {
    let body = record.encode();
    bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&blake3::hash(&body).as_bytes()[..4]);
    bytes.extend_from_slice(&body);
}

/// The records of whole, sound frames; where they end; whether a whole frame was damaged.
fn read_frames(bytes: &[u8]) -> (Vec<SignedRecord>, usize, bool) {
    let mut records = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let Some(header) = bytes.get(at..at + FRAME_HEADER) else {
            return (records, at, false);
        };
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        if len > RECORD_MAX {
            return (records, at, true);
        }
        let Some(body) = bytes.get(at + FRAME_HEADER..at + FRAME_HEADER + len) else {
            return (records, at, false);
        };
        if blake3::hash(body).as_bytes()[..4] != header[4..8] {
            return (records, at, true);
        }
        let Ok(record) = SignedRecord::decode(body) else {
            return (records, at, true);
        };
        records.push(record);
        at += FRAME_HEADER + len;
    }
    (records, at, false)
}

/// Renames the damaged file out of the way, to a name not yet taken.
fn set_aside(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("records");
    let mut aside = path.with_file_name(format!("{name}.broken"));
    let mut n = 2;
    while aside.exists() {
        aside = path.with_file_name(format!("{name}.broken-{n}"));
        n += 1;
    }
    std::fs::rename(path, &aside)?;
    Ok(aside)
}

/// Writes `records` to a file beside `path`, syncs it, renames it over `path` and syncs the
/// folder, so `path` holds either the old or the new records whenever the process stops.
fn write_all_synced(path: &Path, records: &[SignedRecord]) -> io::Result<()> {
    let mut bytes = Vec::new();
    for record in records {
        push_frame(&mut bytes, record);
    }
    let beside = path.with_extension("records-new");
    let mut file = File::create(&beside)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    std::fs::rename(&beside, path)?;
    if let Some(folder) = path.parent() {
        File::open(folder)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanctuary_protocols::build::{Piece, PieceId, PieceKind, Record, ZoneName};
    use sanctuary_protocols::{Keypair, Rgb, SpaceName, WorldId};

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sanctuary-build-log-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn record(number: u64) -> SignedRecord {
        let ada = Keypair::from_bytes(&[2; 32]);
        SignedRecord::sign(
            &ada,
            WorldId([1; 32]),
            &SpaceName::new("lobby").unwrap(),
            number,
            Record::Piece {
                id: PieceId {
                    creator: ada.peer_id(),
                    number,
                },
                zone: ZoneName::new("plaza").unwrap(),
                piece: Some(Piece::new(PieceKind::Block, [0, 0, 0], Rgb { r: 1, g: 2, b: 3 })),
            },
        )
    }

    #[test]
    fn records_come_back_and_an_unfinished_last_one_is_cut_off() {
        let dir = scratch("unfinished");
        let path = dir.join("w").join("lobby.records");
        let mut loaded = RecordLog::open(&path).unwrap();
        assert!(loaded.records.is_empty());
        loaded.log.append(&[record(1), record(2)]).unwrap();
        loaded.log.append(&[record(3)]).unwrap();
        drop(loaded);
        // A write cut short by a kill: half a frame at the end.
        let whole = std::fs::read(&path).unwrap();
        let mut half = Vec::new();
        push_frame(&mut half, &record(4));
        std::fs::write(&path, [whole.clone(), half[..10].to_vec()].concat()).unwrap();

        let loaded = RecordLog::open(&path).unwrap();
        assert_eq!(loaded.records, vec![record(1), record(2), record(3)]);
        assert!(loaded.notice.is_none());
        assert_eq!(
            std::fs::read(&path).unwrap(),
            whole,
            "the unfinished frame is gone"
        );
    }

    #[test]
    fn a_damaged_file_is_set_aside_with_a_message_and_what_came_before_is_kept() {
        let dir = scratch("damaged");
        let path = dir.join("lobby.records");
        let mut loaded = RecordLog::open(&path).unwrap();
        loaded.log.append(&[record(1), record(2), record(3)]).unwrap();
        drop(loaded);
        let mut bytes = std::fs::read(&path).unwrap();
        let second = bytes.len() / 3 + FRAME_HEADER + 5;
        bytes[second] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();

        let mut loaded = RecordLog::open(&path).unwrap();
        assert_eq!(loaded.records, vec![record(1)]);
        let notice = loaded.notice.clone().unwrap();
        assert!(notice.contains("set aside"), "{notice}");
        assert_eq!(std::fs::read(dir.join("lobby.records.broken")).unwrap(), bytes);
        loaded.log.append(&[record(5)]).unwrap();
        loaded.log.compact([record(5)].iter()).unwrap();
        drop(loaded);
        let again = RecordLog::open(&path).unwrap();
        assert_eq!(again.records, vec![record(5)]);
        assert_eq!(again.log.frames(), 1);
        // While it is open here, nobody else opens it.
        let refused = RecordLog::open(&path).err().expect("the file is in use");
        assert!(refused.to_string().contains("in use"), "{refused}");
    }
}
