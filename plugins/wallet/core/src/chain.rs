//! The chain client: balances, fee estimates, transfers and their fate, over JSON-RPC.
//!
//! Every call has a deadline, every answer is checked where it can be (the chain id against
//! the network's, a transaction hash against the signed bytes, a receipt against the hash
//! asked for), and a transfer is signed exactly as planned and shown: nothing is filled in
//! between the person's confirmation and the signature.

use std::future::Future;
use std::time::Duration;

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::{Decodable2718, Encodable2718};
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, Bytes, TxHash, TxKind, U256};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use alloy::transports::{RpcError, TransportErrorKind};

use crate::WalletError;
use crate::amount::format_amount;
use crate::history::{Asset, Transfer, TransferStatus};
use crate::network::Network;

/// How long one RPC call may take before the chain counts as unreachable.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(10);

/// The gas a plain transfer of the native coin uses.
const NATIVE_TRANSFER_GAS: u64 = 21_000;

alloy::sol! {
    /// The part of ERC-20 the wallet uses.
    interface IERC20 {
        function balanceOf(address owner) external view returns (uint256);
        function transfer(address to, uint256 amount) external returns (bool);
        function decimals() external view returns (uint8);
        function symbol() external view returns (string);
        event Transfer(address indexed from, address indexed to, uint256 value);
    }
}

/// Bytes a transfer may carry after its payment, to say what it pays for (a market order's
/// id). Anyone can read them on chain.
pub const REFERENCE_MAX: usize = 32;

/// A transfer as it will be signed: what the confirm step shows, field for field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferPlan {
    /// The network's name, as shown.
    pub network: String,
    /// Its chain id, signed into the transaction.
    pub chain_id: u64,
    /// The sending account.
    pub from: Address,
    /// The person paid.
    pub to: Address,
    /// What is sent.
    pub asset: Asset,
    /// How much, in the asset's smallest unit.
    pub value: U256,
    /// The sender's next nonce.
    pub nonce: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// EIP-1559 fee cap per gas, wei.
    pub max_fee_per_gas: u128,
    /// EIP-1559 tip per gas, wei.
    pub max_priority_fee_per_gas: u128,
    /// What the payment is for, carried as the transaction's data (after the token call,
    /// for tokens): at most [`REFERENCE_MAX`] bytes, empty for a plain transfer.
    pub reference: Vec<u8>,
}

impl TransferPlan {
    /// The most the fee can be, in wei.
    pub fn max_fee(&self) -> U256 {
        U256::from(self.gas_limit) * U256::from(self.max_fee_per_gas)
    }

    /// One line a person can check before confirming.
    pub fn summary(&self) -> String {
        let reference = match self.reference.is_empty() {
            true => String::new(),
            false => format!(", reference {}", Bytes::from(self.reference.clone())),
        };
        format!(
            "send {} {} to {} on {} (chain {}), fee at most {} {}{reference}",
            format_amount(self.value, self.asset.decimals()),
            self.asset.symbol(),
            self.to,
            self.network,
            self.chain_id,
            format_amount(self.max_fee(), 18),
            "ETH"
        )
    }

    fn transaction(&self) -> TxEip1559 {
        let (to, value, mut input) = match &self.asset {
            Asset::Native { .. } => (self.to, self.value, Vec::new()),
            Asset::Token { contract, .. } => (
                *contract,
                U256::ZERO,
                IERC20::transferCall {
                    to: self.to,
                    amount: self.value,
                }
                .abi_encode(),
            ),
        };
        input.extend_from_slice(&self.reference);
        let input = Bytes::from(input);
        TxEip1559 {
            chain_id: self.chain_id,
            nonce: self.nonce,
            gas_limit: self.gas_limit,
            max_fee_per_gas: self.max_fee_per_gas,
            max_priority_fee_per_gas: self.max_priority_fee_per_gas,
            to: TxKind::Call(to),
            value,
            access_list: Default::default(),
            input,
        }
    }
}

/// A signed transfer, ready to broadcast (and to broadcast again: it is the same bytes).
#[derive(Clone, Debug)]
pub struct SignedTransfer {
    /// The plan it was signed from.
    pub plan: TransferPlan,
    /// Its hash.
    pub hash: TxHash,
    raw: Vec<u8>,
}

impl SignedTransfer {
    /// Reads the sender back from the signed bytes, as a payee does: what its signature
    /// proves, not what anyone says.
    pub fn recover_sender(&self) -> Result<Address, WalletError> {
        let envelope = TxEnvelope::decode_2718(&mut self.raw.as_slice())
            .map_err(|error| WalletError::Rpc(format!("not a signed transaction: {error}")))?;
        envelope
            .signature()
            .recover_address_from_prehash(&envelope.signature_hash())
            .map_err(|_| WalletError::Rpc("a transaction without a valid signature".into()))
    }

    /// The history entry for it, pending.
    pub fn record(&self, sent_at_ms: u64, memo: Option<String>) -> Transfer {
        Transfer {
            hash: self.hash,
            chain_id: self.plan.chain_id,
            from: self.plan.from,
            to: self.plan.to,
            asset: self.plan.asset.clone(),
            value: self.plan.value,
            max_fee: self.plan.max_fee(),
            nonce: self.plan.nonce,
            sent_at_ms,
            memo,
            reference: self.plan.reference.clone(),
            status: TransferStatus::Pending,
        }
    }
}

/// Signs `plan` with `signer`, which must be the plan's sender.
pub fn sign(plan: &TransferPlan, signer: &PrivateKeySigner) -> Result<SignedTransfer, WalletError> {
    if signer.address() != plan.from {
        return Err(WalletError::Rpc(format!(
            "the key for {} cannot sign for {}",
            signer.address(),
            plan.from
        )));
    }
    let mut transaction = plan.transaction();
    let signature = signer
        .sign_transaction_sync(&mut transaction)
        .map_err(|error| WalletError::Rpc(format!("signing failed: {error}")))?;
    let envelope = TxEnvelope::from(transaction.into_signed(signature));
    Ok(SignedTransfer {
        plan: plan.clone(),
        hash: *envelope.tx_hash(),
        raw: envelope.encoded_2718(),
    })
}

/// A connection to one network's RPC, checked to be on the network's chain.
#[derive(Clone, Debug)]
pub struct Chain {
    network: Network,
    provider: RootProvider,
}

impl Chain {
    /// Connects and checks that the RPC serves `network.chain_id`.
    pub async fn connect(network: Network) -> Result<Self, WalletError> {
        let url: alloy::transports::http::reqwest::Url = network.rpc_url.parse().map_err(|error| {
            WalletError::BadConfig(format!("RPC address \"{}\": {error}", network.rpc_url))
        })?;
        crate::install_tls_provider();
        let provider = RootProvider::new_http(url);
        let chain = Self { network, provider };
        let actual = chain.rpc(chain.provider.get_chain_id()).await?;
        if actual != chain.network.chain_id {
            return Err(WalletError::WrongChain {
                url: chain.network.rpc_url.clone(),
                expected: chain.network.chain_id,
                actual,
            });
        }
        Ok(chain)
    }

    /// Connects to whatever chain the RPC at `rpc_url` serves, named after its address (the
    /// local test chain's label when it serves that chain's id).
    pub async fn probe(rpc_url: &str) -> Result<Self, WalletError> {
        let mut network = Network::local(rpc_url);
        network.chain_id = 0;
        match Self::connect(network.clone()).await {
            Err(WalletError::WrongChain { actual, .. }) if actual == crate::network::LOCAL_CHAIN_ID => {
                Self::connect(Network::local(rpc_url)).await
            }
            Err(WalletError::WrongChain { actual, .. }) => {
                network.chain_id = actual;
                network.name = format!("chain {actual} at {rpc_url}");
                network.test = false;
                Self::connect(network).await
            }
            other => other,
        }
    }

    /// The network this client is on.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The native balance of `address`, in wei.
    pub async fn balance(&self, address: Address) -> Result<U256, WalletError> {
        self.rpc(async { self.provider.get_balance(address).await }).await
    }

    /// The balance of `address` in token `contract`, in its smallest unit.
    pub async fn token_balance(&self, contract: Address, address: Address) -> Result<U256, WalletError> {
        let answer = self
            .call(contract, IERC20::balanceOfCall { owner: address }.abi_encode())
            .await?;
        IERC20::balanceOfCall::abi_decode_returns(&answer).map_err(|_| {
            WalletError::Rpc(format!(
                "{contract} did not answer balanceOf like an ERC-20 token"
            ))
        })
    }

    /// A token's symbol and decimals, as its contract reports them.
    pub async fn token_info(&self, contract: Address) -> Result<(String, u8), WalletError> {
        let not_a_token = || WalletError::Rpc(format!("{contract} does not answer like an ERC-20 token"));
        let symbol = IERC20::symbolCall::abi_decode_returns(
            &self.call(contract, IERC20::symbolCall {}.abi_encode()).await?,
        )
        .map_err(|_| not_a_token())?;
        let decimals = IERC20::decimalsCall::abi_decode_returns(
            &self.call(contract, IERC20::decimalsCall {}.abi_encode()).await?,
        )
        .map_err(|_| not_a_token())?;
        let symbol: String = symbol.chars().filter(|c| !c.is_control()).take(16).collect();
        if symbol.is_empty() || decimals > 36 {
            return Err(not_a_token());
        }
        Ok((symbol, decimals))
    }

    /// Plans sending `value` of `asset` from `from` to `to`: nonce, gas and fees from the chain,
    /// and a check that the sender can pay value and fee.
    pub async fn plan(
        &self,
        from: Address,
        to: Address,
        asset: Asset,
        value: U256,
    ) -> Result<TransferPlan, WalletError> {
        self.plan_payment(from, to, asset, value, Vec::new()).await
    }

    /// Plans a payment that says what it pays for: like [`plan`](Self::plan), with
    /// `reference` (at most [`REFERENCE_MAX`] bytes) in the transaction's data, where the
    /// payee finds it ([`Chain::check_payment`]).
    pub async fn plan_payment(
        &self,
        from: Address,
        to: Address,
        asset: Asset,
        value: U256,
        reference: Vec<u8>,
    ) -> Result<TransferPlan, WalletError> {
        if reference.len() > REFERENCE_MAX {
            return Err(WalletError::TooMany(format!(
                "a payment reference of {} bytes, over the limit of {REFERENCE_MAX}",
                reference.len()
            )));
        }
        if to == Address::ZERO {
            return Err(WalletError::BadAddress(
                "the zero address burns whatever is sent to it".into(),
            ));
        }
        let nonce = self
            .rpc(async { self.provider.get_transaction_count(from).pending().await })
            .await?;
        let fees = self.rpc(self.provider.estimate_eip1559_fees()).await?;
        let mut plan = TransferPlan {
            network: self.network.name.clone(),
            chain_id: self.network.chain_id,
            from,
            to,
            asset,
            value,
            nonce,
            gas_limit: NATIVE_TRANSFER_GAS,
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
            reference,
        };
        if let Asset::Token {
            contract,
            symbol,
            decimals,
        } = &plan.asset
        {
            let held = self.token_balance(*contract, from).await?;
            if held < plan.value {
                return Err(WalletError::InsufficientFunds(format!(
                    "{} holds {} {symbol}, not {}",
                    from,
                    format_amount(held, *decimals),
                    format_amount(plan.value, *decimals)
                )));
            }
        }
        let native = self.balance(from).await?;
        if matches!(plan.asset, Asset::Native { .. }) && native < plan.value {
            return Err(WalletError::InsufficientFunds(format!(
                "{} holds {} {}, not {}",
                from,
                format_amount(native, 18),
                self.network.symbol,
                format_amount(plan.value, 18)
            )));
        }
        // Estimated only once the amount is known to be there: an estimate of a transfer
        // beyond the balance fails with the chain's less helpful words.
        let transaction = plan.transaction();
        let request = TransactionRequest::default()
            .from(from)
            .to(match transaction.to {
                TxKind::Call(to) => to,
                TxKind::Create => Address::ZERO,
            })
            .value(transaction.value)
            .input(transaction.input.clone().into());
        let estimate = self
            .rpc(async { self.provider.estimate_gas(request).await })
            .await?;
        // A little room over the estimate: state can change between planning and mining.
        plan.gas_limit = estimate.max(NATIVE_TRANSFER_GAS).saturating_mul(6) / 5;
        if matches!(plan.asset, Asset::Native { .. }) && estimate == NATIVE_TRANSFER_GAS {
            plan.gas_limit = NATIVE_TRANSFER_GAS;
        }

        let native_needed = match plan.asset {
            Asset::Native { .. } => plan.value + plan.max_fee(),
            Asset::Token { .. } => plan.max_fee(),
        };
        if native < native_needed {
            return Err(WalletError::InsufficientFunds(format!(
                "{} holds {} {}, and this needs up to {} (amount and fee)",
                from,
                format_amount(native, 18),
                self.network.symbol,
                format_amount(native_needed, 18)
            )));
        }
        Ok(plan)
    }

    /// What `token` is: the network's coin when `None`, else the ERC-20 token at that contract.
    pub async fn asset(&self, token: Option<Address>) -> Result<Asset, WalletError> {
        Ok(match token {
            None => Asset::Native {
                symbol: self.network.symbol.clone(),
            },
            Some(contract) => {
                let (symbol, decimals) = self.token_info(contract).await?;
                Asset::Token {
                    contract,
                    symbol,
                    decimals,
                }
            }
        })
    }

    /// Plans sending `amount` as a person typed it ("1.5") of the coin or `token`.
    pub async fn plan_typed(
        &self,
        from: Address,
        to: Address,
        token: Option<Address>,
        amount: &str,
    ) -> Result<TransferPlan, WalletError> {
        let asset = self.asset(token).await?;
        let value = crate::amount::parse_amount(amount, asset.decimals())?;
        if value == U256::ZERO {
            return Err(WalletError::BadAmount("sending nothing is not a transfer".into()));
        }
        self.plan(from, to, asset, value).await
    }

    /// Broadcasts a signed transfer. Sending the same one twice is harmless: it is the same
    /// transaction, with the same nonce.
    pub async fn broadcast(&self, signed: &SignedTransfer) -> Result<TxHash, WalletError> {
        if signed.plan.chain_id != self.network.chain_id {
            return Err(WalletError::WrongChain {
                url: self.network.rpc_url.clone(),
                expected: signed.plan.chain_id,
                actual: self.network.chain_id,
            });
        }
        let result = self
            .rpc(async { self.provider.send_raw_transaction(&signed.raw).await })
            .await;
        let answered = match result {
            Ok(pending) => *pending.tx_hash(),
            // Sent before (a retry after a lost answer): the chain has it already.
            Err(WalletError::Rejected(message))
                if message.contains("already") || message.contains("known") =>
            {
                signed.hash
            }
            Err(error) => return Err(error),
        };
        if answered != signed.hash {
            return Err(WalletError::Rpc(format!(
                "the RPC at {} answered with transaction {answered}, but the signed one is {}",
                self.network.rpc_url, signed.hash
            )));
        }
        Ok(signed.hash)
    }

    /// What became of transaction `hash`, with how many blocks confirm it.
    pub async fn status(&self, hash: TxHash) -> Result<(TransferStatus, u64), WalletError> {
        let Some(receipt) = self
            .rpc(async { self.provider.get_transaction_receipt(hash).await })
            .await?
        else {
            return Ok((TransferStatus::Pending, 0));
        };
        if receipt.transaction_hash != hash {
            return Err(WalletError::Rpc(format!(
                "the RPC at {} answered for {} when asked about {hash}",
                self.network.rpc_url, receipt.transaction_hash
            )));
        }
        let Some(block) = receipt.block_number else {
            return Ok((TransferStatus::Pending, 0));
        };
        let latest = self.rpc(self.provider.get_block_number()).await?;
        let confirmations = latest.saturating_sub(block) + 1;
        let status = if receipt.status() {
            TransferStatus::Confirmed { block }
        } else {
            TransferStatus::Reverted { block }
        };
        Ok((status, confirmations))
    }

    /// Waits until `hash` is in a block (or `timeout` passes, leaving it pending).
    pub async fn wait(&self, hash: TxHash, timeout: Duration) -> Result<TransferStatus, WalletError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (status, _) = self.status(hash).await?;
            if status != TransferStatus::Pending || tokio::time::Instant::now() >= deadline {
                return Ok(status);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Sends a raw JSON-RPC request (for the local chain's own methods).
    pub async fn raw<P, R>(&self, method: &'static str, params: P) -> Result<R, WalletError>
    where
        P: serde::Serialize + Clone + std::fmt::Debug + Send + Sync + Unpin,
        R: serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + Unpin + 'static,
    {
        self.rpc(self.provider.raw_request(method.into(), params)).await
    }

    /// Runs one RPC call with the client's deadline (for [`crate::payment`]).
    pub(crate) async fn rpc_call<T>(
        &self,
        call: impl Future<Output = Result<T, RpcError<TransportErrorKind>>>,
    ) -> Result<T, WalletError> {
        self.rpc(call).await
    }

    /// The provider, for [`crate::payment`].
    pub(crate) fn provider(&self) -> &RootProvider {
        &self.provider
    }

    async fn call(&self, contract: Address, input: Vec<u8>) -> Result<Bytes, WalletError> {
        let request = TransactionRequest::default()
            .to(contract)
            .input(Bytes::from(input).into());
        self.rpc(async { self.provider.call(request).await }).await
    }

    /// Runs one RPC call with a deadline, turning its failure into a clear error.
    async fn rpc<T>(
        &self,
        call: impl Future<Output = Result<T, RpcError<TransportErrorKind>>>,
    ) -> Result<T, WalletError> {
        let url = &self.network.rpc_url;
        match tokio::time::timeout(RPC_TIMEOUT, call).await {
            Err(_) => Err(WalletError::Unreachable {
                url: url.clone(),
                reason: format!("no answer in {} s", RPC_TIMEOUT.as_secs()),
            }),
            Ok(Ok(value)) => Ok(value),
            Ok(Err(RpcError::ErrorResp(payload))) => Err(WalletError::Rejected(payload.message.to_string())),
            Ok(Err(RpcError::Transport(kind))) => Err(WalletError::Unreachable {
                url: url.clone(),
                reason: kind.to_string(),
            }),
            Ok(Err(RpcError::DeserError { .. } | RpcError::NullResp)) => Err(WalletError::Rpc(format!(
                "the RPC at {url} answered something that is not a valid reply"
            ))),
            Ok(Err(other)) => Err(WalletError::Rpc(format!("the RPC at {url}: {other}"))),
        }
    }
}
