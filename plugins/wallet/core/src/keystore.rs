//! The keystore file: Ethereum's v3 "web3 secret storage" format (scrypt, then AES-128-CTR,
//! with a keccak MAC that tells a wrong passphrase from a right one).
//!
//! The wallet writes scrypt keystores holding its recovery phrase's entropy;
//! [`KeystoreFile::decrypt`] also opens the private-key keystores other wallets write,
//! scrypt or PBKDF2. The file is replaced atomically, so a crash
//! while saving leaves the old one whole.

use std::path::Path;

use aes::cipher::{KeyIvInit, StreamCipher};
use alloy::primitives::keccak256;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::WalletError;

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// How much work scrypt does per unlock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfStrength {
    /// log2 of scrypt's N (cost).
    pub log_n: u8,
    /// scrypt's r (block size).
    pub r: u32,
    /// scrypt's p (parallelism).
    pub p: u32,
}

impl KdfStrength {
    /// What the wallet writes: N = 2^17, r = 8, p = 1 (128 MiB, about half a second).
    pub const STANDARD: Self = Self {
        log_n: 17,
        r: 8,
        p: 1,
    };
    /// For tests only: quick, and weak.
    pub const TEST: Self = Self {
        log_n: 10,
        r: 8,
        p: 1,
    };
    /// The most a file may ask for before it is refused as hostile (N = 2^20, 1 GiB).
    const MAX_LOG_N: u8 = 20;
}

/// A v3 keystore, as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeystoreFile {
    /// Always 3.
    pub version: u32,
    /// A random id (a UUID) that names this file.
    pub id: String,
    /// The address of the first account, without 0x, so a person can see whose it is
    /// without unlocking it (as other wallets do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The encrypted secret.
    pub crypto: Crypto,
}

/// The `crypto` section of a v3 keystore.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Crypto {
    /// Only "aes-128-ctr".
    pub cipher: String,
    /// The cipher's IV.
    pub cipherparams: CipherParams,
    /// The encrypted secret, hex.
    pub ciphertext: String,
    /// "scrypt" is written; "scrypt" and "pbkdf2" are read.
    pub kdf: String,
    /// The KDF's parameters.
    pub kdfparams: KdfParams,
    /// keccak256(derived key[16..32] ++ ciphertext), hex.
    pub mac: String,
}

/// AES-CTR parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CipherParams {
    /// 16 bytes, hex.
    pub iv: String,
}

/// Key-derivation parameters: scrypt's (`n`, `r`, `p`) or PBKDF2's (`c`, `prf`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KdfParams {
    /// Derived key length: 32.
    pub dklen: u32,
    /// scrypt's cost, a power of two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// scrypt's block size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r: Option<u32>,
    /// scrypt's parallelism.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<u32>,
    /// PBKDF2's iteration count (read only: older wallets wrote it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c: Option<u32>,
    /// PBKDF2's pseudo-random function: only "hmac-sha256".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prf: Option<String>,
    /// Random salt, hex.
    pub salt: String,
}

impl KeystoreFile {
    /// Encrypts `secret` under `passphrase`, with a fresh salt and IV.
    pub fn encrypt(
        secret: &[u8],
        passphrase: &str,
        strength: KdfStrength,
        address: Option<String>,
    ) -> Result<Self, WalletError> {
        let mut salt = [0u8; 32];
        let mut iv = [0u8; 16];
        let mut id = [0u8; 16];
        for buffer in [&mut salt[..], &mut iv[..], &mut id[..]] {
            getrandom::fill(buffer).map_err(|error| WalletError::Random(error.to_string()))?;
        }
        let params = KdfParams {
            dklen: 32,
            n: Some(1u64 << strength.log_n),
            r: Some(strength.r),
            p: Some(strength.p),
            c: None,
            prf: None,
            salt: to_hex(&salt),
        };
        let key = derive_key("scrypt", passphrase, &params)?;
        let mut ciphertext = secret.to_vec();
        Aes128Ctr::new(key[..16].into(), (&iv).into()).apply_keystream(&mut ciphertext);
        let mac = mac(&key, &ciphertext);
        Ok(Self {
            version: 3,
            id: uuid_v4(id),
            address,
            crypto: Crypto {
                cipher: "aes-128-ctr".into(),
                cipherparams: CipherParams { iv: to_hex(&iv) },
                ciphertext: to_hex(&ciphertext),
                kdf: "scrypt".into(),
                kdfparams: params,
                mac: to_hex(&mac),
            },
        })
    }

    /// The secret, if `passphrase` is the one it was encrypted with.
    pub fn decrypt(&self, passphrase: &str) -> Result<Zeroizing<Vec<u8>>, WalletError> {
        if self.version != 3 {
            return Err(WalletError::BadKeystore(format!(
                "version {} (only 3 is known)",
                self.version
            )));
        }
        if self.crypto.cipher != "aes-128-ctr" {
            return Err(WalletError::BadKeystore(format!(
                "cipher \"{}\" (only aes-128-ctr is read)",
                self.crypto.cipher
            )));
        }
        let ciphertext = from_hex(&self.crypto.ciphertext, "ciphertext")?;
        let expected_mac = from_hex(&self.crypto.mac, "mac")?;
        let iv: [u8; 16] = from_hex(&self.crypto.cipherparams.iv, "iv")?
            .try_into()
            .map_err(|_| WalletError::BadKeystore("the IV is not 16 bytes".into()))?;
        let key = derive_key(&self.crypto.kdf, passphrase, &self.crypto.kdfparams)?;
        if !same_bytes(&mac(&key, &ciphertext), &expected_mac) {
            return Err(WalletError::WrongPassphrase);
        }
        let mut secret = Zeroizing::new(ciphertext);
        Aes128Ctr::new(key[..16].into(), (&iv).into()).apply_keystream(&mut secret);
        Ok(secret)
    }

    /// Reads a keystore file; a missing one is [`WalletError::NoWallet`].
    pub fn load(path: &Path) -> Result<Self, WalletError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Err(WalletError::NoWallet),
            Err(error) => return Err(WalletError::Io(path.display().to_string(), error)),
        };
        serde_json::from_slice(&bytes)
            .map_err(|error| WalletError::BadKeystore(format!("{}: {error}", path.display())))
    }

    /// Writes the file atomically (a temporary file, then a rename), readable only by its owner.
    pub fn save(&self, path: &Path) -> Result<(), WalletError> {
        let json =
            serde_json::to_vec_pretty(self).map_err(|error| WalletError::BadKeystore(error.to_string()))?;
        crate::files::write_atomically(path, &json, true)
    }
}

fn derive_key(kdf: &str, passphrase: &str, params: &KdfParams) -> Result<Zeroizing<[u8; 32]>, WalletError> {
    if params.dklen != 32 {
        return Err(WalletError::BadKeystore(format!(
            "a derived key of {} bytes (32 expected)",
            params.dklen
        )));
    }
    let salt = from_hex(&params.salt, "salt")?;
    let mut key = Zeroizing::new([0u8; 32]);
    match kdf {
        "scrypt" => {
            let missing = || WalletError::BadKeystore("scrypt without n, r and p".into());
            let (n, r, p) = (
                params.n.ok_or_else(missing)?,
                params.r.ok_or_else(missing)?,
                params.p.ok_or_else(missing)?,
            );
            if !n.is_power_of_two() || n < 2 {
                return Err(WalletError::BadKeystore(format!(
                    "scrypt N = {n} is not a power of two"
                )));
            }
            let log_n = n.trailing_zeros() as u8;
            if log_n > KdfStrength::MAX_LOG_N || r == 0 || p == 0 || u64::from(r) * u64::from(p) > 64 {
                return Err(WalletError::BadKeystore(format!(
                    "scrypt N = {n}, r = {r}, p = {p} asks for more work than any wallet uses"
                )));
            }
            let scrypt_params = scrypt::Params::new(log_n, r, p, 32).map_err(|_| {
                WalletError::BadKeystore(format!(
                    "scrypt N = {n} with r = {r} is outside what scrypt allows"
                ))
            })?;
            scrypt::scrypt(passphrase.as_bytes(), &salt, &scrypt_params, &mut *key)
                .map_err(|error| WalletError::BadKeystore(format!("scrypt: {error}")))?;
        }
        "pbkdf2" => {
            if params.prf.as_deref() != Some("hmac-sha256") {
                return Err(WalletError::BadKeystore(format!(
                    "PBKDF2 with {:?} (only hmac-sha256 is read)",
                    params.prf
                )));
            }
            let rounds = params
                .c
                .ok_or_else(|| WalletError::BadKeystore("PBKDF2 without c".into()))?;
            if !(1..=10_000_000).contains(&rounds) {
                return Err(WalletError::BadKeystore(format!(
                    "PBKDF2 with {rounds} rounds asks for more work than any wallet uses"
                )));
            }
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(passphrase.as_bytes(), &salt, rounds, &mut *key);
        }
        other => {
            return Err(WalletError::BadKeystore(format!(
                "key derivation \"{other}\" (scrypt and pbkdf2 are read)"
            )));
        }
    }
    Ok(key)
}

fn mac(key: &[u8; 32], ciphertext: &[u8]) -> [u8; 32] {
    let mut body = Vec::with_capacity(16 + ciphertext.len());
    body.extend_from_slice(&key[16..]);
    body.extend_from_slice(ciphertext);
    keccak256(&body).0
}

/// Compares without stopping at the first difference.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .fold(0u8, |difference, (x, y)| difference | (x ^ y))
            == 0
}

fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = to_hex(&bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn to_hex(bytes: &[u8]) -> String {
    alloy::primitives::hex::encode(bytes)
}

fn from_hex(text: &str, field: &str) -> Result<Vec<u8>, WalletError> {
    alloy::primitives::hex::decode(text)
        .map_err(|_| WalletError::BadKeystore(format!("the {field} is not hex")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The PBKDF2 test vector published with the v3 format. (Its scrypt vector uses r = 1 with
    /// N = 2^18, which RFC 7914 forbids and no wallet writes.)
    const PUBLISHED_VECTOR: &str = r#"{
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": { "iv": "6087dab2f9fdbbfaddc31a909735c1e6" },
            "ciphertext": "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
            "kdf": "pbkdf2",
            "kdfparams": { "c": 262144, "dklen": 32, "prf": "hmac-sha256",
                           "salt": "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd" },
            "mac": "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"
        },
        "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
        "version": 3
    }"#;

    #[test]
    fn the_published_vector_decrypts_to_its_private_key() {
        let file: KeystoreFile = serde_json::from_str(PUBLISHED_VECTOR).unwrap();
        let secret = file.decrypt("testpassword").unwrap();
        assert_eq!(
            to_hex(&secret),
            "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d"
        );
        assert!(matches!(
            file.decrypt("testpassword!"),
            Err(WalletError::WrongPassphrase)
        ));
    }

    #[test]
    fn what_is_encrypted_comes_back_only_with_its_passphrase() {
        let secret = [7u8; 16];
        let file = KeystoreFile::encrypt(&secret, "correct horse", KdfStrength::TEST, None).unwrap();
        assert_eq!(&file.decrypt("correct horse").unwrap()[..], &secret);
        assert!(matches!(
            file.decrypt("correct horse "),
            Err(WalletError::WrongPassphrase)
        ));
        assert!(!file.crypto.ciphertext.contains(&to_hex(&secret)));
        let again = KeystoreFile::encrypt(&secret, "correct horse", KdfStrength::TEST, None).unwrap();
        assert_ne!(again.crypto.kdfparams.salt, file.crypto.kdfparams.salt);
        assert_ne!(again.crypto.ciphertext, file.crypto.ciphertext);
        assert_eq!(file.id.len(), 36);
    }

    #[test]
    fn hostile_or_damaged_files_are_refused_before_any_work() {
        let good = KeystoreFile::encrypt(&[1; 16], "pass", KdfStrength::TEST, None).unwrap();
        let mut greedy = good.clone();
        greedy.crypto.kdfparams.n = Some(1 << 30);
        assert!(
            matches!(greedy.decrypt("pass"), Err(WalletError::BadKeystore(m)) if m.contains("more work"))
        );
        let mut odd = good.clone();
        odd.crypto.kdfparams.n = Some(1000);
        assert!(
            matches!(odd.decrypt("pass"), Err(WalletError::BadKeystore(m)) if m.contains("power of two"))
        );
        let mut tampered = good.clone();
        tampered.crypto.ciphertext.replace_range(0..2, "00");
        tampered.crypto.ciphertext.replace_range(2..4, "ff");
        assert!(matches!(
            tampered.decrypt("pass"),
            Err(WalletError::WrongPassphrase)
        ));
        let mut other = good;
        other.crypto.kdf = "argon2".into();
        assert!(matches!(other.decrypt("pass"), Err(WalletError::BadKeystore(m)) if m.contains("argon2")));
    }
}
