//! Serde helpers for byte arrays of any length, written as exactly `N` bytes.
//!
//! Serde's own array support stops at 32 elements, and a signature is 64 bytes. Used with
//! `#[serde(with = "crate::fixed_bytes")]`. In postcard the array is `N` raw bytes with no
//! length in front, since the length is known.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserializer, Serializer};

/// Writes `bytes` as a tuple of `N` bytes.
pub(crate) fn serialize<S: Serializer, const N: usize>(
    bytes: &[u8; N],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut tuple = serializer.serialize_tuple(N)?;
    for byte in bytes {
        tuple.serialize_element(byte)?;
    }
    tuple.end()
}

/// Reads a tuple of `N` bytes.
pub(crate) fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
    deserializer: D,
) -> Result<[u8; N], D::Error> {
    deserializer.deserialize_tuple(N, ArrayVisitor::<N>)
}

struct ArrayVisitor<const N: usize>;

impl<'de, const N: usize> Visitor<'de> for ArrayVisitor<N> {
    type Value = [u8; N];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{N} bytes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; N], A::Error> {
        let mut bytes = [0u8; N];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = seq
                .next_element()?
                .ok_or_else(|| de::Error::invalid_length(i, &self))?;
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Wrapper(#[serde(with = "super")] [u8; 40]);

    #[test]
    fn postcard_writes_the_bytes_with_no_length_prefix() {
        let mut bytes = [0u8; 40];
        bytes
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = (i * 5) as u8 ^ 0xa5);
        let encoded = postcard::to_allocvec(&Wrapper(bytes)).unwrap();
        assert_eq!(encoded, bytes);
        assert_eq!(postcard::from_bytes::<Wrapper>(&encoded).unwrap(), Wrapper(bytes));
        assert!(postcard::from_bytes::<Wrapper>(&encoded[..39]).is_err());
    }
}
