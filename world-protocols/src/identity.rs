//! Who wrote a message: peer ids, key pairs and signatures.
//!
//! A person's identity is one ed25519 key pair. Its public half is their [`PeerId`],
//! which has the same 32 bytes as their iroh endpoint id, so the two convert with
//! [`PeerId::from_bytes`] and [`PeerId::as_bytes`].

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

/// A peer's identity: the 32 bytes of an ed25519 public key.
///
/// Displayed and parsed as 64 lowercase hex digits, the way iroh prints an endpoint id,
/// so ids in logs and tickets look the same everywhere. Parsing also accepts uppercase.
///
/// Any 32 bytes make a `PeerId`; whether they are a usable public key is only checked
/// when a signature is verified against it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PeerId([u8; 32]);

impl PeerId {
    /// Length of a peer id in bytes.
    pub const LENGTH: usize = 32;

    /// Wraps the 32 bytes of an ed25519 public key (for example an iroh endpoint id).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes of the public key.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether these bytes are a usable ed25519 public key (one that can be dialed and can
    /// verify signatures).
    pub fn is_valid_key(&self) -> bool {
        VerifyingKey::from_bytes(&self.0).is_ok()
    }

    /// Checks that `signature` was made over `message` by the key behind this id.
    ///
    /// Uses ed25519's strict verification, as iroh does: weak keys and malleable
    /// signatures are rejected.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), VerifyError> {
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| VerifyError::InvalidKey)?;
        let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
        key.verify_strict(message, &signature)
            .map_err(|_| VerifyError::BadSignature)
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({self})")
    }
}

impl FromStr for PeerId {
    type Err = ParsePeerIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != Self::LENGTH * 2 {
            return Err(ParsePeerIdError::WrongLength { len: s.len() });
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
            *byte = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        Ok(Self(bytes))
    }
}

/// Why a string is not a [`PeerId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParsePeerIdError {
    /// A peer id is exactly 64 hex digits.
    #[error("a peer id is 64 hex digits, this is {len} bytes long")]
    WrongLength {
        /// Length of the input in bytes.
        len: usize,
    },
    /// The input contains something other than `0`-`9`, `a`-`f`, `A`-`F`.
    #[error("a peer id contains only hex digits")]
    NotHex,
}

/// Why a signature check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The author's 32 bytes are not a valid ed25519 public key.
    #[error("the author is not a valid ed25519 public key")]
    InvalidKey,
    /// The signature was not made by the author over these bytes.
    #[error("the signature does not match the author and content")]
    BadSignature,
}

/// The operating system could not provide randomness for a new key.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomnessError(getrandom::Error);

/// A person's ed25519 key pair: signs everything they send.
///
/// Store it with [`Keypair::to_bytes`] and load it with [`Keypair::from_bytes`]; those
/// 32 bytes are the secret and are what iroh calls a `SecretKey`, so the same file can
/// configure the iroh endpoint. The secret is wiped from memory when the key is dropped.
/// `Debug` prints only the public half.
#[derive(Clone)]
pub struct Keypair(SigningKey);

impl Keypair {
    /// A new random key pair from the operating system's random number generator.
    pub fn generate() -> Result<Self, RandomnessError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(RandomnessError)?;
        let keypair = Self::from_bytes(&secret);
        secret.zeroize();
        Ok(keypair)
    }

    /// The key pair whose secret is these 32 bytes (as returned by [`Keypair::to_bytes`]).
    pub fn from_bytes(secret: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(secret))
    }

    /// The 32 secret bytes, for storing in the data directory. Keep them private.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public half: this person's id.
    pub fn peer_id(&self) -> PeerId {
        PeerId(self.0.verifying_key().to_bytes())
    }

    /// Signs `message`. Anyone can check the result with [`PeerId::verify`].
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("peer_id", &self.peer_id())
            .finish_non_exhaustive()
    }
}

/// An ed25519 signature: 64 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Signature(#[serde(with = "crate::fixed_bytes")] [u8; 64]);

impl Signature {
    /// Length of a signature in bytes.
    pub const LENGTH: usize = 64;

    /// Wraps 64 signature bytes.
    pub const fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(bytes)
    }

    /// The 64 signature bytes.
    pub const fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signature(")?;
        write_hex(f, &self.0)?;
        f.write_str(")")
    }
}

pub(crate) fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
}

pub(crate) fn hex_digit(c: u8) -> Result<u8, ParsePeerIdError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(ParsePeerIdError::NotHex),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_hex(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    fn keypair(seed: u8) -> Keypair {
        Keypair::from_bytes(&[seed; 32])
    }

    #[test]
    fn peer_id_prints_as_lowercase_hex_and_parses_back() {
        let id = PeerId::from_bytes([0xab; 32]);
        let text = id.to_string();
        assert_eq!(text, "ab".repeat(32));
        assert_eq!(text.parse::<PeerId>(), Ok(id));
        assert_eq!(text.to_uppercase().parse::<PeerId>(), Ok(id));
        assert_eq!(format!("{id:?}"), format!("PeerId({text})"));
    }

    #[test]
    fn peer_id_parse_rejects_bad_input() {
        assert_eq!(
            "ab".parse::<PeerId>(),
            Err(ParsePeerIdError::WrongLength { len: 2 })
        );
        let not_hex = format!("{}zz", "00".repeat(31));
        assert_eq!(not_hex.parse::<PeerId>(), Err(ParsePeerIdError::NotHex));
        // 64 bytes, but not 64 ASCII characters: must not panic on a char boundary.
        let multibyte = "é".repeat(32);
        assert_eq!(multibyte.parse::<PeerId>(), Err(ParsePeerIdError::NotHex));
    }

    #[test]
    fn keypair_bytes_round_trip_to_the_same_identity() {
        let original = Keypair::generate().unwrap();
        let restored = Keypair::from_bytes(&original.to_bytes());
        assert_eq!(restored.peer_id(), original.peer_id());
        assert_ne!(Keypair::generate().unwrap().peer_id(), original.peer_id());
    }

    #[test]
    fn keypair_debug_does_not_leak_the_secret() {
        let pair = keypair(7);
        let secret_hex: String = pair.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let debug = format!("{pair:?}");
        assert!(!debug.contains(&secret_hex));
        assert!(debug.contains(&pair.peer_id().to_string()));
    }

    #[test]
    fn signatures_verify_only_for_the_signer_and_message() {
        let alice = keypair(1);
        let bob = keypair(2);
        let signature = alice.sign(b"hello");
        assert_eq!(alice.peer_id().verify(b"hello", &signature), Ok(()));
        assert_eq!(
            alice.peer_id().verify(b"hellO", &signature),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            bob.peer_id().verify(b"hello", &signature),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn a_known_seed_gives_the_rfc_8032_public_key() {
        // RFC 8032, section 7.1, test 1.
        let secret = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
        let public = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        let pair = Keypair::from_bytes(&from_hex(secret).try_into().unwrap());
        assert_eq!(pair.peer_id().to_string(), public);
        let signature = pair.sign(b"");
        let expected = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
                        5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
        assert_eq!(signature.as_bytes().to_vec(), from_hex(expected));
    }

    #[test]
    fn an_invalid_public_key_is_reported_as_such() {
        // y = 2 is not the y coordinate of any point on the curve.
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        let bogus = PeerId::from_bytes(bytes);
        let signature = keypair(1).sign(b"x");
        assert_eq!(bogus.verify(b"x", &signature), Err(VerifyError::InvalidKey));
    }
}
