//! The recovery phrase (BIP-39) and the accounts it derives (BIP-32/44).
//!
//! The phrase is the wallet: its entropy is what the keystore encrypts, and every account's
//! key is derived from it on the path `m/44'/60'/0'/0/i`, as other Ethereum wallets do, so
//! the same twelve words restore the same addresses anywhere.

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::local::coins_bip39::{English, Entropy, Mnemonic, Wordlist};
use zeroize::Zeroizing;

use crate::WalletError;

/// A BIP-39 recovery phrase, held as its entropy and wiped from memory when dropped.
/// Its `Debug` never shows the words.
#[derive(Clone)]
pub struct RecoveryPhrase {
    entropy: Zeroizing<Vec<u8>>,
}

/// How many words a new phrase has (12 words carry 128 bits of entropy).
pub const NEW_PHRASE_WORDS: usize = 12;

impl RecoveryPhrase {
    /// A new random phrase of [`NEW_PHRASE_WORDS`] words, from the system's random source.
    pub fn generate() -> Result<Self, WalletError> {
        let mut entropy = Zeroizing::new(vec![0u8; 16]);
        getrandom::fill(&mut entropy).map_err(|error| WalletError::Random(error.to_string()))?;
        Ok(Self { entropy })
    }

    /// Reads a phrase typed by a person: words separated by any whitespace, in any case.
    /// Unknown words, a wrong count and a wrong checksum word are refused.
    pub fn parse(words: &str) -> Result<Self, WalletError> {
        let normalised = Zeroizing::new(
            words
                .split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(" "),
        );
        let count = normalised.split(' ').filter(|word| !word.is_empty()).count();
        if ![12, 15, 18, 21, 24].contains(&count) {
            return Err(WalletError::BadPhrase(format!(
                "a recovery phrase has 12, 15, 18, 21 or 24 words, not {count}"
            )));
        }
        if let Some(unknown) = normalised
            .split(' ')
            .find(|word| English::get_index(word).is_err())
        {
            return Err(WalletError::BadPhrase(format!(
                "\"{unknown}\" is not a word of the BIP-39 English list"
            )));
        }
        let mnemonic = Mnemonic::<English>::new_from_phrase(&normalised).map_err(|_| {
            WalletError::BadPhrase(
                "the words are right but the last one does not match: check their order".into(),
            )
        })?;
        Self::from_entropy(mnemonic_entropy(&mnemonic)?)
    }

    /// The phrase for `entropy` (16 to 32 bytes, as the keystore holds it).
    pub fn from_entropy(entropy: Zeroizing<Vec<u8>>) -> Result<Self, WalletError> {
        Entropy::from_slice(&*entropy).map_err(|_| {
            WalletError::BadPhrase(format!("{} bytes is not a phrase's entropy", entropy.len()))
        })?;
        Ok(Self { entropy })
    }

    /// The entropy the phrase encodes: what the keystore encrypts.
    pub fn entropy(&self) -> &[u8] {
        &self.entropy
    }

    /// The words, for the one moment a person writes them down.
    pub fn words(&self) -> crate::Secret {
        crate::Secret::new(self.mnemonic().to_phrase())
    }

    /// The signing key of account `index` (path `m/44'/60'/0'/0/index`).
    pub fn signer(&self, index: u32) -> Result<PrivateKeySigner, WalletError> {
        self.signer_at(&account_path(index))
    }

    /// The signing key at any BIP-32 `path`, such as `m/44'/60'/0'/0/0`.
    pub fn signer_at(&self, path: &str) -> Result<PrivateKeySigner, WalletError> {
        let key = self
            .mnemonic()
            .derive_key(path, None)
            .map_err(|error| WalletError::Derivation(error.to_string()))?;
        let signing_key: &alloy::signers::k256::ecdsa::SigningKey = key.as_ref();
        Ok(PrivateKeySigner::from_signing_key(signing_key.clone()))
    }

    /// The address of account `index`.
    pub fn address(&self, index: u32) -> Result<Address, WalletError> {
        Ok(self.signer(index)?.address())
    }

    fn mnemonic(&self) -> Mnemonic<English> {
        let entropy = Entropy::from_slice(&*self.entropy).expect("checked when the phrase was made");
        Mnemonic::new_from_entropy(entropy)
    }
}

impl std::fmt::Debug for RecoveryPhrase {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("RecoveryPhrase(hidden)")
    }
}

/// The BIP-44 path of Ethereum account `index`.
pub fn account_path(index: u32) -> String {
    format!("m/44'/60'/0'/0/{index}")
}

fn mnemonic_entropy(mnemonic: &Mnemonic<English>) -> Result<Zeroizing<Vec<u8>>, WalletError> {
    // The crate keeps its entropy private; its words give it back, 11 bits each.
    let words = Zeroizing::new(mnemonic.to_phrase());
    let mut bits = Vec::new();
    for word in words.split(' ') {
        let index = English::get_index(word).map_err(|error| WalletError::BadPhrase(error.to_string()))?;
        bits.extend((0..11).rev().map(|bit| (index >> bit) & 1 == 1));
    }
    let entropy_bits = bits.len() * 32 / 33;
    let mut entropy = Zeroizing::new(vec![0u8; entropy_bits / 8]);
    for (position, bit) in bits.iter().take(entropy_bits).enumerate() {
        if *bit {
            entropy[position / 8] |= 0x80 >> (position % 8);
        }
    }
    Ok(entropy)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The phrase every Ethereum development chain funds.
    const DEV_PHRASE: &str = "test test test test test test test test test test test junk";

    #[test]
    fn the_development_phrase_gives_its_well_known_accounts() {
        let phrase = RecoveryPhrase::parse(DEV_PHRASE).unwrap();
        assert_eq!(
            phrase.address(0).unwrap().to_string(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
        assert_eq!(
            phrase.address(1).unwrap().to_string(),
            "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
        );
    }

    #[test]
    fn typed_phrases_are_forgiving_about_spacing_and_case_only() {
        let messy = "  Test test\ttest test TEST test test test test test test\njunk ";
        assert_eq!(RecoveryPhrase::parse(messy).unwrap().words().expose(), DEV_PHRASE);
        let swapped = "junk test test test test test test test test test test test";
        assert!(
            matches!(RecoveryPhrase::parse(swapped), Err(WalletError::BadPhrase(m)) if m.contains("order"))
        );
        let unknown = DEV_PHRASE.replace("junk", "junky");
        assert!(
            matches!(RecoveryPhrase::parse(&unknown), Err(WalletError::BadPhrase(m)) if m.contains("junky"))
        );
        assert!(
            matches!(RecoveryPhrase::parse("test test"), Err(WalletError::BadPhrase(m)) if m.contains("not 2"))
        );
    }

    #[test]
    fn a_new_phrase_restores_the_same_accounts_from_its_words() {
        let phrase = RecoveryPhrase::generate().unwrap();
        let restored = RecoveryPhrase::parse(&phrase.words()).unwrap();
        assert_eq!(restored.entropy(), phrase.entropy());
        assert_eq!(restored.address(3).unwrap(), phrase.address(3).unwrap());
        assert_ne!(phrase.address(0).unwrap(), phrase.address(1).unwrap());
        assert_eq!(phrase.words().split(' ').count(), NEW_PHRASE_WORDS);
        assert!(!format!("{phrase:?}").contains(phrase.words().expose()));
    }
}
