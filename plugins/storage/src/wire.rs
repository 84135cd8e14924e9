//! What the storage app's copies say to each other, as app messages.

use sanctuary_plugin_api::BlobHash;
use serde::{Deserialize, Serialize};

/// Longest picture name carried, in bytes.
pub const NAME_MAX: usize = 64;

/// One storage message. Its author is the person whose signature the world checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StorageMessage {
    /// The author hung this picture on the easel (and serves its bytes to anyone who asks).
    Hang {
        /// The picture's hash.
        hash: BlobHash,
        /// Its name, at most [`NAME_MAX`] bytes.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// When it was hung, in Unix milliseconds: the latest hanging is the one shown.
        hung_ms: u64,
    },
    /// The author took their picture down.
    TakeDown {
        /// When, in Unix milliseconds.
        at_ms: u64,
    },
}

/// Bytes that are not a storage message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a storage message: {0}")]
pub struct DecodeError(String);

impl StorageMessage {
    /// The message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Reads a message from bytes sent by anyone; never panics. Trailing bytes and
    /// over-long names are refused.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let message = match postcard::take_from_bytes::<Self>(bytes) {
            Ok((message, [])) => message,
            Ok((_, rest)) => return Err(DecodeError(format!("{} bytes left over", rest.len()))),
            Err(error) => return Err(DecodeError(error.to_string())),
        };
        if let Self::Hang { name, .. } = &message
            && name.len() > NAME_MAX
        {
            return Err(DecodeError(format!("a name of {} bytes", name.len())));
        }
        Ok(message)
    }
}

/// The fuzz target's entry point: decodes, and checks that what decodes encodes back to
/// the same bytes. Returns `false` when that promise is broken.
pub fn fuzz_decode(bytes: &[u8]) -> bool {
    match StorageMessage::decode(bytes) {
        Ok(message) => message.encode() == bytes,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn messages_round_trip() {
        for message in [
            StorageMessage::Hang {
                hash: BlobHash::from_bytes([7; 32]),
                name: "sunset.png".into(),
                size: 1234,
                hung_ms: 99,
            },
            StorageMessage::TakeDown { at_ms: 5 },
        ] {
            assert_eq!(StorageMessage::decode(&message.encode()), Ok(message));
        }
    }

    #[test]
    fn long_names_and_trailing_bytes_are_refused() {
        let long = StorageMessage::Hang {
            hash: BlobHash::from_bytes([7; 32]),
            name: "x".repeat(NAME_MAX + 1),
            size: 1,
            hung_ms: 1,
        };
        assert!(StorageMessage::decode(&long.encode()).is_err());
        let mut bytes = StorageMessage::TakeDown { at_ms: 5 }.encode();
        bytes.push(0);
        assert!(StorageMessage::decode(&bytes).is_err());
    }

    proptest! {
        #[test]
        fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert!(fuzz_decode(&bytes));
        }
    }
}
