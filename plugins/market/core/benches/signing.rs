//! Signing and verifying rates for what a trade signs: a listing as the world layer signs
//! it (ed25519 over the envelope), and a payment (secp256k1, EIP-1559), with the payee's
//! recovery of its sender. Run with `cargo bench -p sanctuary-market-core --bench signing`;
//! figures in BENCHMARKS.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sanctuary_market_core::{Listing, ListingId, MARKET_APP, MarketMessage, Price};
use sanctuary_protocols::identity::Keypair;
use sanctuary_protocols::message::{Body, Context, SignedEnvelope};
use sanctuary_protocols::{AppMessage, AppName, AppPayload, WorldId};
use sanctuary_wallet_core::{Address, Asset, RecoveryPhrase, TransferPlan, U256, sign};

/// Runs `work` for about a second and returns operations per second.
fn rate(mut work: impl FnMut()) -> f64 {
    for _ in 0..100 {
        work();
    }
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        for _ in 0..100 {
            work();
        }
        done += 100;
    }
    done as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let keypair = Keypair::from_bytes(&[7; 32]);
    let context = Context::world(WorldId::random().unwrap());
    let listing = Listing {
        id: ListingId(1),
        title: "Lobby soundtrack".into(),
        description: "Twelve songs for a tall room".into(),
        picture: None,
        goods: None,
        price: Price::new(
            31337,
            &Asset::Native { symbol: "ETH".into() },
            U256::from(10u64).pow(U256::from(17u64)),
            Address::repeat_byte(0x5e),
        ),
        quantity: 10,
        expires_ms: u64::MAX / 2,
    };
    let body = Body::App(AppMessage {
        app: AppName::new(MARKET_APP).unwrap(),
        payload: AppPayload::new(MarketMessage::Listing(Box::new(listing)).encode().unwrap()).unwrap(),
    });
    let mut seq = 0;
    let sign_listing = rate(|| {
        seq += 1;
        black_box(SignedEnvelope::sign(&keypair, &context, seq, 1, body.clone()).encode());
    });
    let bytes = SignedEnvelope::sign(&keypair, &context, 1, 1, body.clone()).encode();
    let verify_listing = rate(|| {
        let envelope = SignedEnvelope::decode(black_box(&bytes)).unwrap();
        black_box(envelope.verify(&context).unwrap());
    });

    let signer = RecoveryPhrase::parse("test test test test test test test test test test test junk")
        .unwrap()
        .signer(0)
        .unwrap();
    let plan = TransferPlan {
        network: "local test chain".into(),
        chain_id: 31337,
        from: signer.address(),
        to: Address::repeat_byte(0x5e),
        asset: Asset::Native { symbol: "ETH".into() },
        value: U256::from(1u64),
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        reference: vec![9; 16],
    };
    let sign_payment = rate(|| {
        black_box(sign(black_box(&plan), &signer).unwrap());
    });
    let signed = sign(&plan, &signer).unwrap();
    let recover_payment = rate(|| {
        black_box(signed.recover_sender().unwrap());
    });
    assert_eq!(signed.recover_sender().unwrap(), signer.address());

    println!("listing envelope, sign + encode (ed25519): {sign_listing:.0} per second");
    println!("listing envelope, decode + verify (ed25519): {verify_listing:.0} per second");
    println!("payment transaction, sign (secp256k1): {sign_payment:.0} per second");
    println!("payment transaction, recover the sender (secp256k1): {recover_payment:.0} per second");
}
