//! The recovery phrase and its keys against published test vectors (BIP-39's reference
//! vectors, BIP-32's test vector 1) and a keystore written by another wallet.

use alloy::signers::local::coins_bip39::{English, Mnemonic};
use coins_bip32::enc::{MainnetEncoder, XKeyEncoder};
use coins_bip32::primitives::Hint;
use coins_bip32::xkeys::XPriv;
use sanctuary_wallet_core::{KeystoreFile, RecoveryPhrase, WalletError};
use zeroize::Zeroizing;

/// (entropy, words, seed with passphrase "TREZOR", master xprv) from BIP-39's reference vectors.
const BIP39_VECTORS: [(&str, &str, &str, &str); 3] = [
    (
        "00000000000000000000000000000000",
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
        "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04",
        "xprv9s21ZrQH143K3h3fDYiay8mocZ3afhfULfb5GX8kCBdno77K4HiA15Tg23wpbeF1pLfs1c5SPmYHrEpTuuRhxMwvKDwqdKiGJS9XFKzUsAF",
    ),
    (
        "7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f",
        "legal winner thank year wave sausage worth useful legal winner thank yellow",
        "2e8905819b8723fe2c1d161860e5ee1830318dbf49a83bd451cfb8440c28bd6fa457fe1296106559a3c80937a1c1069be3a3a5bd381ee6260e8d9739fce1f607",
        "xprv9s21ZrQH143K2gA81bYFHqU68xz1cX2APaSq5tt6MFSLeXnCKV1RVUJt9FWNTbrrryem4ZckN8k4Ls1H6nwdvDTvnV7zEXs2HgPezuVccsq",
    ),
    (
        "f585c11aec520db57dd353c69554b21a89b20fb0650966fa0a9d6f74fd989d8f",
        "void come effort suffer camp survey warrior heavy shoot primary clutch crush open amazing screen patrol group space point ten exist slush involve unfold",
        "01f5bced59dec48e362f2c45b5de68b9fd6c92c6634f44d6d40aab69056506f0e35524a518034ddc1192e1dacd32c1ed3eaa3c3b131c88ed8e7e54c49a5d0998",
        "xprv9s21ZrQH143K39rnQJknpH1WEPFJrzmAqqasiDcVrNuk926oizzJDDQkdiTvNPr2FYDYzWgiMiC63YmfPAa2oPyNB23r2g7d1yiK6WpqaQS",
    ),
];

#[test]
fn phrases_match_the_bip39_reference_vectors_both_ways() {
    for (entropy_hex, words, seed_hex, master) in BIP39_VECTORS {
        let entropy = Zeroizing::new(alloy::hex::decode(entropy_hex).unwrap());
        let from_entropy = RecoveryPhrase::from_entropy(entropy.clone()).unwrap();
        assert_eq!(from_entropy.words().expose(), words);
        let from_words = RecoveryPhrase::parse(words).unwrap();
        assert_eq!(from_words.entropy(), &entropy[..]);

        let mnemonic = Mnemonic::<English>::new_from_phrase(&from_words.words()).unwrap();
        assert_eq!(
            alloy::hex::encode(mnemonic.to_seed(Some("TREZOR")).unwrap()),
            seed_hex
        );
        let master_key = mnemonic.master_key(Some("TREZOR")).unwrap();
        assert_eq!(MainnetEncoder::xpriv_from_base58(master).unwrap(), master_key);
    }
}

#[test]
fn derivation_matches_bip32_test_vector_1() {
    let seed: Vec<u8> = (0u8..16).collect();
    let root = XPriv::root_from_seed(&seed, Some(Hint::Legacy)).unwrap();
    assert_eq!(
        MainnetEncoder::xpriv_to_base58(&root).unwrap(),
        "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi"
    );
    let chain = root.derive_path("m/0'/1/2'/2/1000000000").unwrap();
    assert_eq!(
        MainnetEncoder::xpriv_to_base58(&chain).unwrap(),
        "xprvA41z7zogVVwxVSgdKUHDy1SKmdb533PjDz7J6N6mV6uS3ze1ai8FHa8kmHScGpWmj4WggLyQjgPie1rFSruoUihUZREPSL39UNdE3BBDu76"
    );
}

#[test]
fn ethereum_accounts_follow_bip44_like_other_wallets() {
    // The development phrase's accounts are listed by every Ethereum development chain.
    let phrase =
        RecoveryPhrase::parse("test test test test test test test test test test test junk").unwrap();
    let expected = [
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    ];
    for (index, address) in expected.into_iter().enumerate() {
        assert_eq!(phrase.address(index as u32).unwrap().to_string(), address);
        assert_eq!(
            phrase
                .signer_at(&format!("m/44'/60'/0'/0/{index}"))
                .unwrap()
                .address()
                .to_string(),
            address
        );
    }
}

#[test]
fn a_keystore_written_by_another_wallet_opens() {
    // Written by `cast wallet new` (foundry), which printed this address for it.
    let file: KeystoreFile = serde_json::from_str(include_str!("fixtures/keystore-from-cast.json")).unwrap();
    let key = file.decrypt("written by another wallet").unwrap();
    let signer = alloy::signers::local::PrivateKeySigner::from_slice(&key).unwrap();
    assert_eq!(
        signer.address().to_string(),
        "0x0e890e8cd70FB5FC5226c6D0DC07429ACFF2A8ca"
    );
    assert!(matches!(
        file.decrypt("written by another wallet."),
        Err(WalletError::WrongPassphrase)
    ));
}
