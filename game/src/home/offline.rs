//! Working while the home node does not answer: the device keeps the node's latest answer
//! to each thing it reads (shown, with when it was said, while the node is away) and the
//! changes the person makes meanwhile (sent, in order, when the node answers again).
//!
//! Both live in the device's data folder (`home-saved` and `home-changes`), written whole
//! to a new file and renamed over the old one, so a crash leaves one or the other. A file
//! that does not read is set aside (`.damaged`) and the device starts without it.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use sanctuary_protocols::home::request::OWNER_REQUEST_MAX;
use sanctuary_protocols::home::{ChangeMark, Request, Response};
use serde::{Deserialize, Serialize};

/// The saved answers' file in the data folder.
pub(crate) const SAVED_FILE: &str = "home-saved";
/// The waiting changes' file in the data folder.
pub(crate) const WAITING_FILE: &str = "home-changes";
/// Where changes waited before they carried a number (read once, then replaced).
const WAITING_FILE_BEFORE: &str = "home-waiting";

/// Most answers kept (one per distinct read).
const SAVED_MAX: usize = 32;
/// Most bytes of answers kept.
const SAVED_BYTES_MAX: usize = 16 << 20;
/// Most changes waiting.
pub(crate) const WAITING_MAX: usize = 200;
/// Most bytes of changes waiting (a file added offline may be large).
const WAITING_BYTES_MAX: usize = 96 << 20;

/// What a request is to the offline copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// It reads the person's data: its latest answer is kept, and shown offline.
    Read,
    /// It changes the person's data: made offline, it waits for the node.
    Change,
    /// Only the node itself can answer it, now (pairing, giving or revoking grants,
    /// export…).
    Live,
}

/// How the offline copy treats `request`.
pub(crate) fn kind(request: &Request) -> Kind {
    if request.changes_data() {
        return Kind::Change;
    }
    match request {
        Request::GetProfile
        | Request::Wall { .. }
        | Request::Friends
        | Request::Inbox { .. }
        | Request::Files
        | Request::Devices
        | Request::Grants
        | Request::AccessLog { .. } => Kind::Read,
        _ => Kind::Live,
    }
}

/// One kept answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Saved {
    request: Vec<u8>,
    response: Vec<u8>,
    saved_ms: u64,
}

/// One change waiting for the node.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Waiting {
    app: String,
    /// The device's number for the change, sent with it (`Request::once`), so that the
    /// node makes it once however often it is sent.
    change: u64,
    request: Vec<u8>,
    made_ms: u64,
}

/// A waiting change as versions before numbered changes kept it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WaitingBefore {
    app: String,
    request: Vec<u8>,
    made_ms: u64,
}

/// A change waiting for the node, read back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WaitingChange {
    /// The app that made it (and gets the node's answer).
    pub app: String,
    /// The device's number for it, and when it was made.
    pub mark: ChangeMark,
    /// The change.
    pub request: Request,
}

/// Why a change could not be kept for later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KeepError {
    /// Too many, or too large, wait already.
    #[error("{0} changes wait for your home node already; try again when it answers")]
    Full(usize),
    /// The device could not write it down.
    #[error("it could not be kept on this device: {0}")]
    Io(String),
}

/// The device's offline copy of its node's answers, and its waiting changes.
#[derive(Debug)]
pub(crate) struct Offline {
    dir: PathBuf,
    saved: Vec<Saved>,
    waiting: VecDeque<Waiting>,
}

impl Offline {
    /// Reads what the data folder `dir` keeps; what does not read is set aside, and each
    /// such problem comes back in a line.
    pub fn open(dir: &Path) -> (Self, Vec<String>) {
        let mut problems = Vec::new();
        let saved: Vec<Saved> = read(&dir.join(SAVED_FILE), &mut problems).unwrap_or_default();
        let mut waiting: VecDeque<Waiting> = read(&dir.join(WAITING_FILE), &mut problems).unwrap_or_default();
        if let Some(before) = read::<VecDeque<WaitingBefore>>(&dir.join(WAITING_FILE_BEFORE), &mut problems) {
            // Changes kept by an earlier version: each gets its number now.
            for change in before {
                match ChangeMark::random(change.made_ms) {
                    Ok(mark) => waiting.push_back(Waiting {
                        app: change.app,
                        change: mark.change,
                        request: change.request,
                        made_ms: change.made_ms,
                    }),
                    Err(error) => problems.push(format!("a waiting change got no number ({error})")),
                }
            }
            match write(&dir.join(WAITING_FILE), &waiting) {
                Ok(()) => {
                    let _ = std::fs::remove_file(dir.join(WAITING_FILE_BEFORE));
                }
                Err(error) => problems.push(format!("the waiting changes could not be written: {error}")),
            }
        }
        (
            Self {
                dir: dir.to_path_buf(),
                saved,
                waiting,
            },
            problems,
        )
    }

    /// How many changes wait for the node.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Keeps the node's `response` to `request`, if it is a read, as its latest answer.
    pub fn answered(&mut self, request: &Request, response: &Response, now_ms: u64) {
        if kind(request) != Kind::Read || matches!(response, Response::Refused { .. }) {
            return;
        }
        let request = request.encode();
        let response = response.encode();
        if let Some(same) = self
            .saved
            .iter_mut()
            .find(|saved| saved.request == request && saved.response == response)
        {
            // The same answer as last time: nothing new to write (the file keeps when it
            // was first given).
            same.saved_ms = now_ms;
            return;
        }
        self.saved.retain(|saved| saved.request != request);
        self.saved.push(Saved {
            request,
            response,
            saved_ms: now_ms,
        });
        let bytes = |saved: &[Saved]| {
            saved
                .iter()
                .map(|s| s.response.len() + s.request.len())
                .sum::<usize>()
        };
        while self.saved.len() > SAVED_MAX || (self.saved.len() > 1 && bytes(&self.saved) > SAVED_BYTES_MAX) {
            self.saved.remove(0);
        }
        if let Err(error) = write(&self.dir.join(SAVED_FILE), &self.saved) {
            tracing::warn!("the home node's answers could not be kept: {error}");
        }
    }

    /// The node's latest answer to `request`, and when it came (Unix milliseconds).
    pub fn saved(&self, request: &Request) -> Option<(Response, u64)> {
        let request = request.encode();
        let saved = self.saved.iter().find(|saved| saved.request == request)?;
        let response = Response::decode(&saved.response).ok()?;
        Some((response, saved.saved_ms))
    }

    /// Keeps `request` (a change app `app` made, with its mark) to send when the node
    /// answers.
    pub fn keep(&mut self, app: &str, mark: ChangeMark, request: &Request) -> Result<usize, KeepError> {
        let bytes = request.encode();
        let waiting_bytes: usize = self.waiting.iter().map(|w| w.request.len()).sum();
        if self.waiting.len() >= WAITING_MAX || waiting_bytes + bytes.len() > WAITING_BYTES_MAX {
            return Err(KeepError::Full(self.waiting.len()));
        }
        self.waiting.push_back(Waiting {
            app: app.to_owned(),
            change: mark.change,
            request: bytes,
            made_ms: mark.written_ms,
        });
        if let Err(error) = write(&self.dir.join(WAITING_FILE), &self.waiting) {
            self.waiting.pop_back();
            return Err(KeepError::Io(error.to_string()));
        }
        Ok(self.waiting.len())
    }

    /// The oldest waiting change. One that no longer reads is dropped (and said so).
    pub fn next(&mut self) -> Option<WaitingChange> {
        while let Some(first) = self.waiting.front() {
            match Request::decode(&first.request, OWNER_REQUEST_MAX) {
                Ok(request) => {
                    return Some(WaitingChange {
                        app: first.app.clone(),
                        mark: ChangeMark {
                            change: first.change,
                            written_ms: first.made_ms,
                        },
                        request,
                    });
                }
                Err(error) => {
                    tracing::warn!(
                        "a waiting change of {} no longer reads ({error}): dropped",
                        first.app
                    );
                    self.sent();
                }
            }
        }
        None
    }

    /// The oldest waiting change reached the node: forget it.
    pub fn sent(&mut self) {
        self.waiting.pop_front();
        if let Err(error) = write(&self.dir.join(WAITING_FILE), &self.waiting) {
            tracing::warn!("the waiting changes could not be written: {error}");
        }
    }

    /// Forgets everything (this device paired with another node).
    pub fn clear(&mut self) {
        self.saved.clear();
        self.waiting.clear();
        for file in [SAVED_FILE, WAITING_FILE, WAITING_FILE_BEFORE] {
            let _ = std::fs::remove_file(self.dir.join(file));
        }
    }
}

/// Reads `path`, if it is there; a file that does not read is renamed `.damaged`.
fn read<T: serde::de::DeserializeOwned>(path: &Path, problems: &mut Vec<String>) -> Option<T> {
    let bytes = std::fs::read(path).ok()?;
    let why = match postcard::take_from_bytes(&bytes) {
        Ok((value, [])) => return Some(value),
        Ok(_) => "it has bytes past its end".to_owned(),
        Err(error) => format!("it did not read ({error})"),
    };
    let aside = path.with_extension("damaged");
    let _ = std::fs::rename(path, &aside);
    problems.push(format!(
        "{}: {why}; it was set aside as {}",
        path.display(),
        aside.display()
    ));
    None
}

/// Writes `value` to a new file beside `path` (readable by this user only: it holds the
/// person's wall, inbox and files), then renames it over `path`.
fn write<T: Serialize + ?Sized>(path: &Path, value: &T) -> std::io::Result<()> {
    let bytes = postcard::to_allocvec(value).map_err(std::io::Error::other)?;
    let new = path.with_extension("new");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&new)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&new, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sanctuary-offline-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn mark(change: u64, written_ms: u64) -> ChangeMark {
        ChangeMark { change, written_ms }
    }

    fn post(text: &str) -> Request {
        Request::Post {
            text: text.into(),
            audience: sanctuary_protocols::home::Audience::Friends,
            pictures: Vec::new(),
        }
    }

    #[test]
    fn answers_and_waiting_changes_outlive_the_device_and_a_damaged_file_is_set_aside() {
        let dir = folder("keep");
        let (mut offline, problems) = Offline::open(&dir);
        assert!(problems.is_empty());
        let wall = Request::Wall { limit: 5 };
        offline.answered(&wall, &Response::Wall(Vec::new()), 7);
        // Changes and refusals are not answers to show later.
        offline.answered(&post("x"), &Response::Done, 8);
        offline.answered(
            &Request::Files,
            &Response::refused(sanctuary_protocols::home::Refusal::NotAllowed, "no"),
            9,
        );
        assert_eq!(offline.keep("home", mark(1, 10), &post("one")), Ok(1));
        assert_eq!(offline.keep("home", mark(2, 11), &post("two")), Ok(2));

        let (mut again, problems) = Offline::open(&dir);
        assert!(problems.is_empty());
        assert_eq!(again.saved(&wall), Some((Response::Wall(Vec::new()), 7)));
        assert_eq!(again.saved(&Request::Files), None);
        assert_eq!(again.saved(&post("x")), None);
        assert_eq!(again.waiting(), 2);
        assert_eq!(again.next().unwrap().request, post("one"));
        again.sent();
        assert_eq!(
            again.next(),
            Some(WaitingChange {
                app: "home".into(),
                mark: mark(2, 11),
                request: post("two")
            })
        );

        std::fs::write(dir.join(WAITING_FILE), b"\xff\xff\xff").unwrap();
        let (damaged, problems) = Offline::open(&dir);
        assert_eq!(damaged.waiting(), 0);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(dir.join("home-changes.damaged").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn changes_kept_before_they_were_numbered_are_read_and_numbered() {
        let dir = folder("before");
        let before = VecDeque::from([WaitingBefore {
            app: "home".into(),
            request: post("kept long ago").encode(),
            made_ms: 5,
        }]);
        write(&dir.join(WAITING_FILE_BEFORE), &before).unwrap();
        let (mut offline, problems) = Offline::open(&dir);
        assert!(problems.is_empty(), "{problems:?}");
        let change = offline.next().expect("the old change");
        assert_eq!(change.request, post("kept long ago"));
        assert_eq!(change.mark.written_ms, 5);
        assert!(!dir.join(WAITING_FILE_BEFORE).exists());
        // The number it got is kept with it.
        let (mut again, _) = Offline::open(&dir);
        assert_eq!(again.next().unwrap().mark, change.mark);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn waiting_changes_are_bounded() {
        let dir = folder("bounded");
        let (mut offline, _) = Offline::open(&dir);
        for n in 0..WAITING_MAX {
            offline
                .keep("home", mark(n as u64, 1), &post(&n.to_string()))
                .unwrap();
        }
        assert_eq!(
            offline.keep("home", mark(0, 1), &post("one more")),
            Err(KeepError::Full(WAITING_MAX))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
