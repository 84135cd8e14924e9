//! Names of stored files: a [`BlobHash`] is the BLAKE3 hash of a file's bytes, so the
//! name says what the bytes must be and anyone can check a copy from anywhere.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::identity::{ParsePeerIdError, hex_digit, write_hex};

/// The BLAKE3 hash of a blob's bytes: its name in every store.
///
/// Displayed and parsed as 64 lowercase hex digits, the way iroh-blobs prints a hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BlobHash([u8; 32]);

impl BlobHash {
    /// Wraps the 32 bytes of a BLAKE3 hash.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes of the hash.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first 8 hex digits, for lists where the whole hash would not fit.
    pub fn short(&self) -> String {
        self.to_string()[..8].to_owned()
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobHash({self})")
    }
}

/// Why text is not a blob hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a blob hash is 64 hex digits")]
pub struct ParseBlobHashError;

impl From<ParsePeerIdError> for ParseBlobHashError {
    fn from(_: ParsePeerIdError) -> Self {
        Self
    }
}

impl FromStr for BlobHash {
    type Err = ParseBlobHashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 {
            return Err(ParseBlobHashError);
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
            *byte = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        Ok(Self(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_prints_and_parses_back() {
        let hash = BlobHash::from_bytes([0xab; 32]);
        let text = hash.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<BlobHash>(), Ok(hash));
        assert_eq!(hash.short(), "abababab");
    }

    #[test]
    fn text_that_is_not_a_hash_is_refused() {
        assert!("abc".parse::<BlobHash>().is_err());
        assert!("z".repeat(64).parse::<BlobHash>().is_err());
    }
}
