//! Payments: an app asks, the person confirms in their wallet.
//!
//! An app granted [`Permission::Wallet`] sends [`WalletRequest`]s with
//! [`WalletRequests::request`]. A payment is never made by the app: the wallet app shows
//! it to the person (who pays, how much, to whom, the fee, the network) and signs only
//! what they confirm; the answer comes back as a [`WalletReply`] that only the asking app
//! reads. An app can also ask whether a transaction pays what it expects (a seller
//! checking a buyer's payment), which needs no confirmation: it moves nothing.

use std::marker::PhantomData;

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;

use crate::grants::{CapabilityError, Grants};
use crate::mailbox::Mailbox;
use crate::manifest::Permission;
use crate::setup::SanctuaryApp;

/// Requests waiting for the wallet, at most, for all apps together.
pub const WALLET_REQUESTS_MAX: usize = 16;
/// Replies waiting for one app, at most; older ones are dropped first.
pub const WALLET_REPLIES_MAX: usize = 64;
/// Most bytes a payment's reference may have.
pub const PAYMENT_REFERENCE_MAX: usize = 32;

/// What a payment must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentTerms {
    /// Who is paid: a 20-byte EVM address.
    pub to: [u8; 20],
    /// The chain it is paid on.
    pub chain_id: u64,
    /// The ERC-20 token's contract, or `None` for the chain's own coin.
    pub token: Option<[u8; 20]>,
    /// How much, in the asset's smallest unit, big-endian.
    pub amount: [u8; 32],
    /// Bytes the payment carries in its transaction (at most
    /// [`PAYMENT_REFERENCE_MAX`]), such as an order's id, so it pays for that alone.
    pub reference: Vec<u8>,
}

/// Something an app asks of the wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletRequest {
    /// Ask the person to make a payment. They see it in the Wallet panel and confirm or
    /// decline it.
    Pay {
        /// The app's own number for the request; the reply carries it.
        id: u64,
        /// What to pay.
        terms: PaymentTerms,
        /// What it is for, shown to the person and kept in the wallet's history.
        memo: String,
    },
    /// Ask the chain whether `transaction` pays `terms` to the person (moves nothing).
    Check {
        /// The app's own number for the request.
        id: u64,
        /// The transaction's hash.
        transaction: [u8; 32],
        /// What it must pay.
        terms: PaymentTerms,
        /// How many blocks must hold it.
        confirmations: u64,
    },
    /// Ask where the person is paid: the address of their first account, the network,
    /// and the tokens their wallet knows (no confirmation: the address is public, and
    /// the wallet publishes it to the world anyway).
    Account {
        /// The app's own number for the request.
        id: u64,
    },
}

/// Where the person is paid, for [`WalletRequest::Account`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentAccount {
    /// The address of their first account.
    pub address: [u8; 20],
    /// The network's chain id.
    pub chain_id: u64,
    /// The network's name.
    pub network: String,
    /// Whether it holds test funds only (not real money).
    pub test: bool,
    /// The network's own coin's symbol ("ETH"); it has 18 decimals.
    pub coin_symbol: String,
    /// The ERC-20 tokens the person added to their wallet on this network.
    pub tokens: Vec<KnownToken>,
}

/// An ERC-20 token the person's wallet knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownToken {
    /// Its contract.
    pub contract: [u8; 20],
    /// Its symbol.
    pub symbol: String,
    /// Its decimals.
    pub decimals: u8,
}

/// What the chain says about a payment, for [`WalletRequest::Check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentVerdict {
    /// Not in enough blocks yet (or unknown): ask again later.
    Waiting {
        /// Blocks that hold it so far.
        confirmations: u64,
    },
    /// Paid as asked, and confirmed.
    Paid {
        /// The account that paid (recovered from the transaction's signature).
        from: [u8; 20],
        /// The block it is in.
        block: u64,
    },
    /// It does not pay what was asked, and never will; why.
    Wrong(String),
}

/// The wallet's answer to one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletReply {
    /// The person confirmed and the payment was sent (it may not be in a block yet).
    Paid {
        /// The request.
        id: u64,
        /// The transaction's hash.
        transaction: [u8; 32],
    },
    /// Not paid: the person declined, or it could not be done; why, in one line.
    Declined {
        /// The request.
        id: u64,
        /// Why.
        reason: String,
    },
    /// The answer to a [`WalletRequest::Check`].
    Checked {
        /// The request.
        id: u64,
        /// What the chain says.
        verdict: PaymentVerdict,
    },
    /// The answer to a [`WalletRequest::Account`].
    Account {
        /// The request.
        id: u64,
        /// Where the person is paid.
        account: PaymentAccount,
    },
    /// A check or an account could not be given (no wallet, the chain unreachable); why.
    Unchecked {
        /// The request.
        id: u64,
        /// Why.
        reason: String,
    },
}

/// Wallet requests on their way to the wallet app and replies on their way back.
pub type WalletMail = Mailbox<WalletRequest, WalletReply>;

impl WalletMail {
    /// Hands `reply` to app `app` (for the wallet app).
    pub fn reply(&mut self, app: &str, reply: WalletReply) {
        self.reply_within(app, reply, WALLET_REPLIES_MAX);
    }
}

/// App `A`'s door to the person's wallet. Needs [`Permission::Wallet`].
#[derive(SystemParam)]
pub struct WalletRequests<'w, A: SanctuaryApp> {
    mail: ResMut<'w, WalletMail>,
    grants: Res<'w, Grants>,
    app: PhantomData<A>,
}

impl<A: SanctuaryApp> WalletRequests<'_, A> {
    /// Asks the wallet for something; the answer comes later from
    /// [`replies`](Self::replies).
    pub fn request(&mut self, request: WalletRequest) -> Result<(), CapabilityError> {
        let name = A::MANIFEST.name;
        self.grants.check(name, &Permission::Wallet)?;
        let reference = match &request {
            WalletRequest::Pay { terms, .. } | WalletRequest::Check { terms, .. } => terms.reference.len(),
            WalletRequest::Account { .. } => 0,
        };
        if reference > PAYMENT_REFERENCE_MAX {
            return Err(CapabilityError::TooLarge {
                app: name.into(),
                len: reference,
                max: PAYMENT_REFERENCE_MAX,
            });
        }
        self.mail.ask_granted(
            name,
            &Permission::Wallet,
            &self.grants,
            request,
            WALLET_REQUESTS_MAX,
        )
    }

    /// Takes the answers that arrived since the last call, oldest first. Nothing arrives
    /// while the permission is not granted.
    pub fn replies(&mut self) -> Vec<WalletReply> {
        let name = A::MANIFEST.name;
        self.mail
            .take_granted_replies(name, &Permission::Wallet, &self.grants)
    }

    /// Whether the person lets this app ask their wallet.
    pub fn allowed(&self) -> bool {
        self.grants.is_granted(A::MANIFEST.name, &Permission::Wallet)
    }
}
