//! The wallet in its folder: create, restore, unlock, lock, and what survives bad files.

use std::time::Duration;

use sanctuary_wallet_core::{KdfStrength, RecoveryPhrase, Wallet, WalletError};

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sanctuary-wallet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_wallet_is_created_once_and_restored_from_its_words() {
    let dir = scratch("create");
    let (mut wallet, phrase) = Wallet::create(&dir, "a good passphrase", KdfStrength::TEST).unwrap();
    let first = wallet.accounts()[0].address;
    assert!(!wallet.backed_up());
    let second = wallet.add_account().unwrap();
    assert_eq!(second.index, 1);
    assert_ne!(second.address, first);

    // Never replaced.
    let keystore = std::fs::read(dir.join("keystore.json")).unwrap();
    assert!(matches!(
        Wallet::create(&dir, "another passphrase", KdfStrength::TEST),
        Err(WalletError::AlreadyExists(_))
    ));
    assert_eq!(std::fs::read(dir.join("keystore.json")).unwrap(), keystore);

    // The words, typed into another machine, give the same accounts.
    let elsewhere = scratch("restore");
    let typed = RecoveryPhrase::parse(&phrase.words()).unwrap();
    let mut restored =
        Wallet::restore(&elsewhere, &typed, "different passphrase", KdfStrength::TEST).unwrap();
    assert_eq!(restored.accounts()[0].address, first);
    assert_eq!(restored.add_account().unwrap().address, second.address);
    assert!(restored.backed_up());

    // The keystore holds no secret in the clear, and no file holds the words.
    for file in ["keystore.json", "wallet.json"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(!text.contains(phrase.words().expose()));
        assert!(!text.contains(&alloy::hex::encode(phrase.entropy())));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("keystore.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the keystore is readable by others: {mode:o}");
    }
    assert!(matches!(
        Wallet::create(&scratch("weak"), "short", KdfStrength::TEST),
        Err(WalletError::WeakPassphrase)
    ));
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&elsewhere).unwrap();
}

#[test]
fn signing_needs_the_passphrase_and_stops_when_the_unlock_runs_out() {
    let dir = scratch("unlock");
    let (created, _) = Wallet::create(&dir, "a good passphrase", KdfStrength::TEST).unwrap();
    let address = created.accounts()[0].address;
    drop(created);

    let mut wallet = Wallet::open(&dir).unwrap();
    assert_eq!(
        wallet.accounts()[0].address,
        address,
        "the address shows while locked"
    );
    assert!(matches!(wallet.signer(0), Err(WalletError::Locked)));
    assert!(matches!(
        wallet.unlock("a good passphrase!", Duration::from_secs(60)),
        Err(WalletError::WrongPassphrase)
    ));
    assert!(matches!(wallet.signer(0), Err(WalletError::Locked)));

    wallet
        .unlock("a good passphrase", Duration::from_millis(300))
        .unwrap();
    assert_eq!(wallet.signer(0).unwrap().address(), address);
    std::thread::sleep(Duration::from_millis(400));
    assert!(!wallet.is_unlocked());
    assert!(matches!(wallet.signer(0), Err(WalletError::Locked)));

    wallet
        .unlock("a good passphrase", Duration::from_secs(60))
        .unwrap();
    wallet.lock();
    assert!(matches!(wallet.add_account(), Err(WalletError::Locked)));

    // Revealing the words asks for the passphrase again.
    assert!(matches!(
        wallet.reveal_phrase("wrong passphrase"),
        Err(WalletError::WrongPassphrase)
    ));
    assert_eq!(
        wallet
            .reveal_phrase("a good passphrase")
            .unwrap()
            .address(0)
            .unwrap(),
        address
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn damaged_files_lose_nothing() {
    let dir = scratch("damaged");
    let (wallet, _) = Wallet::create(&dir, "a good passphrase", KdfStrength::TEST).unwrap();
    let address = wallet.accounts()[0].address;
    drop(wallet);

    std::fs::write(dir.join("wallet.json"), b"{ not json").unwrap();
    let mut reopened = Wallet::open(&dir).unwrap();
    assert_eq!(
        reopened.accounts()[0].address,
        address,
        "the keystore names the first account"
    );
    assert_eq!(
        std::fs::read(dir.join("wallet.json.unreadable")).unwrap(),
        b"{ not json"
    );
    reopened
        .unlock("a good passphrase", Duration::from_secs(5))
        .unwrap();

    std::fs::write(dir.join("keystore.json"), b"[]").unwrap();
    assert!(matches!(Wallet::open(&dir), Err(WalletError::BadKeystore(_))));
    assert!(matches!(
        Wallet::open(&scratch("none")),
        Err(WalletError::NoWallet)
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
