//! Transfers on a real local chain (anvil, started by each test), and RPCs that are down,
//! on another chain, or lie.

use std::time::Duration;

use alloy::primitives::{Address, U256};
use sanctuary_wallet_core::{
    Asset, Chain, ExpectedPayment, KdfStrength, LocalChain, Network, PaymentCheck, TransferStatus, Wallet,
    WalletError, parse_amount, sign,
};

const WAIT: Duration = Duration::from_secs(20);

fn folder(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("sanctuary-chain-{name}-{}", std::process::id()))
}

/// An empty folder for one test.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = folder(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn eth() -> Asset {
    Asset::Native { symbol: "ETH".into() }
}

/// A wallet with test funds on a fresh local chain.
async fn funded_wallet(name: &str) -> (LocalChain, Chain, Wallet) {
    let local = LocalChain::start(None).await.unwrap();
    let chain = Chain::connect(local.network()).await.unwrap();
    let (wallet, _) = Wallet::create(&scratch(name), "a good passphrase", KdfStrength::TEST).unwrap();
    assert!(
        LocalChain::fund_if_empty(&chain, wallet.accounts()[0].address)
            .await
            .unwrap()
    );
    assert!(
        !LocalChain::fund_if_empty(&chain, wallet.accounts()[0].address)
            .await
            .unwrap(),
        "funded once"
    );
    (local, chain, wallet)
}

#[tokio::test]
async fn a_transfer_moves_exactly_what_was_confirmed_and_only_once() {
    let (local, chain, mut wallet) = funded_wallet("transfer").await;
    let from = wallet.accounts()[0].address;
    let to = Address::repeat_byte(0x42);
    let start = chain.balance(from).await.unwrap();

    let value = parse_amount("1.5", 18).unwrap();
    let plan = chain.plan(from, to, eth(), value).await.unwrap();
    assert_eq!((plan.to, plan.value, plan.chain_id), (to, value, 31337));
    assert!(
        plan.summary().contains("1.5 ETH") && plan.summary().contains("not real money"),
        "{}",
        plan.summary()
    );
    let signed = sign(&plan, &wallet.signer(0).unwrap()).unwrap();
    wallet.record(signed.record(1, Some("a test".into()))).unwrap();
    assert_eq!(chain.broadcast(&signed).await.unwrap(), signed.hash);
    let status = chain.wait(signed.hash, WAIT).await.unwrap();
    assert!(matches!(status, TransferStatus::Confirmed { .. }), "{status:?}");
    wallet.set_status(signed.hash, status.clone()).unwrap();

    assert_eq!(chain.balance(to).await.unwrap(), value);
    let spent = start - chain.balance(from).await.unwrap();
    assert!(
        spent > value && spent <= value + plan.max_fee(),
        "spent {spent}, fee cap {}",
        plan.max_fee()
    );

    // Sending the same signed transfer again (a retry after a lost answer) moves nothing more.
    let _ = chain.broadcast(&signed).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(chain.balance(to).await.unwrap(), value);

    // The history remembers it, across a reopen.
    let reopened = Wallet::open(&folder("transfer")).unwrap();
    let entry = &reopened.history()[0];
    assert_eq!(
        (entry.hash, entry.to, entry.value, &entry.status),
        (signed.hash, to, value, &status)
    );
    local.stop().await;
}

#[tokio::test]
async fn more_than_the_balance_is_refused_before_anything_is_signed() {
    let (local, chain, wallet) = funded_wallet("too-much").await;
    let from = wallet.accounts()[0].address;
    let error = chain
        .plan(
            from,
            Address::repeat_byte(7),
            eth(),
            parse_amount("100", 18).unwrap(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, WalletError::InsufficientFunds(m) if m.contains("100")),
        "{error}"
    );
    let error = chain
        .plan(from, Address::ZERO, eth(), U256::from(1))
        .await
        .unwrap_err();
    assert!(matches!(error, WalletError::BadAddress(_)));
    assert_eq!(chain.balance(Address::repeat_byte(7)).await.unwrap(), U256::ZERO);
    local.stop().await;
}

#[tokio::test]
async fn a_reverted_transfer_is_shown_as_reverted_and_moves_nothing() {
    let (local, chain, mut wallet) = funded_wallet("revert").await;
    let from = wallet.accounts()[0].address;
    // A contract that refuses every call: PUSH1 0, PUSH1 0, REVERT.
    let refuser = Address::repeat_byte(0x66);
    let _: serde_json::Value = chain
        .raw("anvil_setCode", (refuser, "0x60006000fd"))
        .await
        .unwrap();

    let value = parse_amount("1", 18).unwrap();
    let refused = chain.plan(from, refuser, eth(), value).await.unwrap_err();
    assert!(
        matches!(&refused, WalletError::Rejected(m) if m.contains("revert")),
        "{refused}"
    );

    // Signed anyway with a gas limit of its own, it is mined and reverts.
    let mut plan = chain
        .plan(from, Address::repeat_byte(1), eth(), value)
        .await
        .unwrap();
    plan.to = refuser;
    plan.gas_limit = 100_000;
    let before = chain.balance(from).await.unwrap();
    let signed = sign(&plan, &wallet.signer(0).unwrap()).unwrap();
    chain.broadcast(&signed).await.unwrap();
    let status = chain.wait(signed.hash, WAIT).await.unwrap();
    assert!(matches!(status, TransferStatus::Reverted { .. }), "{status:?}");
    assert_eq!(chain.balance(refuser).await.unwrap(), U256::ZERO);
    let spent = before - chain.balance(from).await.unwrap();
    assert!(
        spent > U256::ZERO && spent <= plan.max_fee(),
        "only the fee is spent: {spent}"
    );
    wallet.record(signed.record(2, None)).unwrap();
    local.stop().await;
}

#[tokio::test]
async fn the_local_chain_keeps_its_state_across_restarts() {
    let dir = scratch("state");
    let state = dir.join("chain-state.json");
    let local = LocalChain::start(Some(&state)).await.unwrap();
    let chain = Chain::connect(local.network()).await.unwrap();
    let someone = Address::repeat_byte(9);
    LocalChain::fund_if_empty(&chain, someone).await.unwrap();
    local.stop().await;
    assert!(state.exists(), "anvil saved its state when stopped");

    let again = LocalChain::start(Some(&state)).await.unwrap();
    let chain = Chain::connect(again.network()).await.unwrap();
    assert_eq!(
        chain.balance(someone).await.unwrap(),
        U256::from(sanctuary_wallet_core::local_chain::TEST_FUNDS_WEI)
    );
    assert!(!LocalChain::fund_if_empty(&chain, someone).await.unwrap());
    again.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn rpcs_that_are_down_or_on_another_chain_are_named() {
    // Nothing listens on a port just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = Chain::connect(Network::local(format!("http://127.0.0.1:{port}")))
        .await
        .unwrap_err();
    assert!(
        matches!(&down, WalletError::Unreachable { url, .. } if url.contains(&port.to_string())),
        "{down}"
    );

    let local = LocalChain::start(None).await.unwrap();
    let mainnet = Network {
        name: "Ethereum".into(),
        chain_id: 1,
        rpc_url: local.rpc_url().into(),
        symbol: "ETH".into(),
        test: false,
    };
    let wrong = Chain::connect(mainnet).await.unwrap_err();
    assert!(
        matches!(
            wrong,
            WalletError::WrongChain {
                expected: 1,
                actual: 31337,
                ..
            }
        ),
        "{wrong}"
    );
    let bad_url = Chain::connect(Network::local("not a url")).await.unwrap_err();
    assert!(matches!(bad_url, WalletError::BadConfig(_)));
    local.stop().await;
}

/// A JSON-RPC server that claims to be the local chain but lies: a fortune in every
/// account, and a different hash for every transaction it is given.
async fn lying_rpc() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        // A bounded number of requests: the test needs a handful.
        for _ in 0..64 {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                loop {
                    let Ok(read) = socket.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..read]);
                    let text = String::from_utf8_lossy(&request);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|line| {
                                line.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            let body: serde_json::Value =
                                serde_json::from_slice(&request[end + 4..end + 4 + length]).unwrap();
                            let result = match body["method"].as_str().unwrap_or("") {
                                "eth_chainId" => serde_json::json!("0x7a69"),
                                "eth_getBalance" => serde_json::json!("0xffffffffffffffffffffffffffffffff"),
                                "eth_getTransactionCount" => serde_json::json!("0x0"),
                                "eth_estimateGas" => serde_json::json!("0x5208"),
                                "eth_feeHistory" => {
                                    serde_json::json!({"oldestBlock": "0x1", "baseFeePerGas": ["0x1", "0x1"], "gasUsedRatio": [0.5], "reward": [["0x1"]]})
                                }
                                "eth_getBlockByNumber" => serde_json::Value::Null,
                                "eth_sendRawTransaction" => {
                                    serde_json::json!(format!("0x{}", "ab".repeat(32)))
                                }
                                _ => serde_json::Value::Null,
                            };
                            let reply =
                                serde_json::json!({"jsonrpc": "2.0", "id": body["id"], "result": result})
                                    .to_string();
                            let response = format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{reply}",
                                reply.len()
                            );
                            let _ = socket.write_all(response.as_bytes()).await;
                            request.clear();
                        }
                    }
                }
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn an_rpc_that_lies_is_caught_where_it_can_be_and_sends_nothing_twice() {
    let url = lying_rpc().await;
    let chain = Chain::connect(Network::local(url.clone())).await.unwrap();
    let (mut wallet, _) = Wallet::create(&scratch("liar"), "a good passphrase", KdfStrength::TEST).unwrap();
    let from = wallet.accounts()[0].address;
    // It claims a fortune, so the plan goes ahead; the lie shows when it answers for the
    // transaction with a hash that is not the signed one's.
    let plan = chain
        .plan(
            from,
            Address::repeat_byte(3),
            eth(),
            parse_amount("1", 18).unwrap(),
        )
        .await
        .unwrap();
    let signed = sign(&plan, &wallet.signer(0).unwrap()).unwrap();
    let error = chain.broadcast(&signed).await.unwrap_err();
    assert!(
        matches!(&error, WalletError::Rpc(m) if m.contains("answered with transaction")),
        "{error}"
    );
    // Its receipts are null: the transfer stays pending, never confirmed.
    assert_eq!(
        chain.status(signed.hash).await.unwrap().0,
        TransferStatus::Pending
    );
    wallet.record(signed.record(3, None)).unwrap();
    assert_eq!(wallet.history().len(), 1);
}

/// A minimal ERC-20 for tests, assembled by hand: `balanceOf`, `transfer` (reverting
/// beyond the balance), `decimals` (6) and `symbol` ("TST"); an account's balance is kept
/// in the storage slot numbered by its address.
///
/// ```text
/// selector = calldata[0..4]; jump to balanceOf | transfer | decimals | symbol, else revert
/// balanceOf: return sload(arg0)
/// transfer:  if sload(caller) < arg1 revert; sstore(caller, sload(caller) - arg1);
///            sstore(arg0, sload(arg0) + arg1); log Transfer(caller, arg0, arg1); return 1
/// decimals:  return 6          symbol: return abi-encoded "TST"
/// ```
const TEST_TOKEN: &str = "0x60003560e01c806370a0823114610036578063a9059cbb14610043578063313ce5671461009d57806395d89b41146100a857600080fd5b6004355460005260206000f35b6024353354818110610098578190033355600435540160043555602435600052600435337fddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef60206000a3600160005260206000f35b600080fd5b600660005260206000f35b602060005260036020526254535460e81b60405260606000f3";

#[tokio::test]
async fn tokens_are_followed_and_sent_like_the_coin() {
    let (local, chain, mut wallet) = funded_wallet("token").await;
    let from = wallet.accounts()[0].address;
    let token = Address::repeat_byte(0x70);
    let ten = parse_amount("10", 6).unwrap();
    install_token(&chain, token, from, ten).await;

    let (symbol, decimals) = chain.token_info(token).await.unwrap();
    assert_eq!((symbol.as_str(), decimals), ("TST", 6));
    assert_eq!(chain.token_balance(token, from).await.unwrap(), ten);
    let not_a_token = chain.token_info(Address::repeat_byte(0x71)).await.unwrap_err();
    assert!(not_a_token.to_string().contains("ERC-20"), "{not_a_token}");

    let asset = Asset::Token {
        contract: token,
        symbol,
        decimals,
    };
    let to = Address::repeat_byte(0x42);
    let too_much = chain
        .plan(from, to, asset.clone(), parse_amount("11", 6).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&too_much, WalletError::InsufficientFunds(m) if m.contains("TST")),
        "{too_much}"
    );

    let value = parse_amount("2.5", 6).unwrap();
    let plan = chain.plan(from, to, asset, value).await.unwrap();
    assert!(plan.summary().contains("2.5 TST"), "{}", plan.summary());
    let signed = sign(&plan, &wallet.signer(0).unwrap()).unwrap();
    chain.broadcast(&signed).await.unwrap();
    assert!(matches!(
        chain.wait(signed.hash, WAIT).await.unwrap(),
        TransferStatus::Confirmed { .. }
    ));
    assert_eq!(chain.token_balance(token, to).await.unwrap(), value);
    assert_eq!(chain.token_balance(token, from).await.unwrap(), ten - value);
    assert_eq!(
        chain.balance(to).await.unwrap(),
        U256::ZERO,
        "no coin moved, only the token"
    );
    wallet.record(signed.record(4, None)).unwrap();
    assert_eq!(
        wallet.history()[0].to,
        to,
        "the history names the person paid, not the contract"
    );
    local.stop().await;
}

/// Puts [`TEST_TOKEN`] at `token`, with `amount` held by `holder`.
async fn install_token(chain: &Chain, token: Address, holder: Address, amount: U256) {
    let _: serde_json::Value = chain.raw("anvil_setCode", (token, TEST_TOKEN)).await.unwrap();
    let slot = alloy::primitives::B256::left_padding_from(holder.as_slice());
    let _: serde_json::Value = chain
        .raw(
            "anvil_setStorageAt",
            (token, slot, alloy::primitives::B256::from(amount)),
        )
        .await
        .unwrap();
}

/// Signs and sends `plan` from the wallet's first account and waits for its block.
async fn pay(
    chain: &Chain,
    wallet: &mut Wallet,
    plan: &sanctuary_wallet_core::TransferPlan,
) -> alloy::primitives::TxHash {
    let signed = sign(plan, &wallet.signer(0).unwrap()).unwrap();
    chain.broadcast(&signed).await.unwrap();
    chain.wait(signed.hash, WAIT).await.unwrap();
    signed.hash
}

#[tokio::test]
async fn a_payee_accepts_only_a_payment_of_what_it_asked_for() {
    let (local, chain, mut wallet) = funded_wallet("payment").await;
    let from = wallet.accounts()[0].address;
    let payee = Address::repeat_byte(0x51);
    let price = parse_amount("0.25", 18).unwrap();
    let order = b"order 0001".to_vec();
    let expected = ExpectedPayment {
        to: payee,
        asset: eth(),
        value: price,
        reference: order.clone(),
        confirmations: 1,
    };

    let plan = chain
        .plan_payment(from, payee, eth(), price, order.clone())
        .await
        .unwrap();
    assert!(plan.summary().contains("reference 0x"), "{}", plan.summary());
    let paid = pay(&chain, &mut wallet, &plan).await;
    assert!(
        matches!(chain.check_payment(paid, &expected).await.unwrap(), PaymentCheck::Paid { from: payer, .. } if payer == from)
    );
    // Two blocks asked for, one so far: wait; after another block, paid.
    let two = ExpectedPayment {
        confirmations: 2,
        ..expected.clone()
    };
    assert_eq!(
        chain.check_payment(paid, &two).await.unwrap(),
        PaymentCheck::Waiting { confirmations: 1 }
    );
    let _: serde_json::Value = chain.raw("anvil_mine", (1,)).await.unwrap();
    assert!(matches!(
        chain.check_payment(paid, &two).await.unwrap(),
        PaymentCheck::Paid { .. }
    ));

    // The same payment does not pay for another order.
    let other_order = ExpectedPayment {
        reference: b"order 0002".to_vec(),
        ..expected.clone()
    };
    assert!(
        matches!(chain.check_payment(paid, &other_order).await.unwrap(), PaymentCheck::Wrong(why) if why.contains("reference"))
    );

    // Too little, or to someone else: wrong, never waiting.
    let less = chain
        .plan_payment(from, payee, eth(), price - U256::from(1), order.clone())
        .await
        .unwrap();
    let less = pay(&chain, &mut wallet, &less).await;
    assert!(
        matches!(chain.check_payment(less, &expected).await.unwrap(), PaymentCheck::Wrong(why) if why.contains("not 0.25"))
    );
    let elsewhere = chain
        .plan_payment(from, Address::repeat_byte(0x52), eth(), price, order.clone())
        .await
        .unwrap();
    let elsewhere = pay(&chain, &mut wallet, &elsewhere).await;
    assert!(
        matches!(chain.check_payment(elsewhere, &expected).await.unwrap(), PaymentCheck::Wrong(why) if why.contains("not 0x5151"))
    );

    // A transaction the chain never saw is waited for (the payee gives up on its own clock).
    assert_eq!(
        chain
            .check_payment(alloy::primitives::TxHash::repeat_byte(9), &expected)
            .await
            .unwrap(),
        PaymentCheck::Waiting { confirmations: 0 }
    );

    // In a token: the token's Transfer event must show the payment.
    let token = Address::repeat_byte(0x70);
    install_token(&chain, token, from, parse_amount("10", 6).unwrap()).await;
    let tst = chain.asset(Some(token)).await.unwrap();
    let in_tokens = ExpectedPayment {
        asset: tst.clone(),
        value: parse_amount("3", 6).unwrap(),
        ..expected.clone()
    };
    let plan = chain
        .plan_payment(from, payee, tst, in_tokens.value, order.clone())
        .await
        .unwrap();
    let paid_in_tokens = pay(&chain, &mut wallet, &plan).await;
    assert!(matches!(
        chain.check_payment(paid_in_tokens, &in_tokens).await.unwrap(),
        PaymentCheck::Paid { .. }
    ));
    assert_eq!(chain.token_balance(token, payee).await.unwrap(), in_tokens.value);
    assert!(
        matches!(chain.check_payment(paid, &in_tokens).await.unwrap(), PaymentCheck::Wrong(why) if why.contains("TST")),
        "a coin payment does not pay a token price"
    );

    // A token payment beyond the balance is mined and reverts: nothing was paid.
    let mut beyond = plan.clone();
    beyond.value = parse_amount("100", 6).unwrap();
    beyond.nonce += 1;
    let reverted = pay(&chain, &mut wallet, &beyond).await;
    let asked = ExpectedPayment {
        value: beyond.value,
        ..in_tokens.clone()
    };
    assert!(
        matches!(chain.check_payment(reverted, &asked).await.unwrap(), PaymentCheck::Wrong(why) if why.contains("reverted"))
    );
    local.stop().await;
}
