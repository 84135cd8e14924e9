//! The door through which apps and mods come into Sanctuary, and the only one.
//!
//! An app is a crate that implements [`SanctuaryApp`]: a [`Manifest`] saying who it is and
//! which [`Permission`]s it asks for, and a `build` that adds its systems and panels
//! through an [`AppSetup`]. The client installs built-in apps and mods from a list
//! (`game/src/apps/list.rs`); the person grants or revokes each permission in the Apps
//! panel, and the grants are kept in the data folder ([`Grants`]).
//!
//! What an app can do, each behind the permission that allows it:
//! - draw egui on a panel the client stands in the world or opens as an overlay
//!   ([`AppSetup::add_panel`], [`Permission::Panels`]);
//! - talk to its own copies on the other peers of the world, or on one peer alone
//!   ([`AppMessages`], [`Permission::Messages`]): every message is signed by the person
//!   like all world traffic, and arrives with its author's verified id;
//! - place its own objects in the spaces it named ([`AppSpawner`], [`Permission::Spawn`]);
//! - ask the person to make a payment, which they confirm in their wallet, and ask whether
//!   a transaction pays them ([`WalletRequests`], [`Permission::Wallet`]);
//! - act for the person on their home node, the personal server ([`HomeNode`],
//!   [`Permission::Home`]);
//! - keep files in its own folder of the data folder ([`AppData`], no permission needed);
//! - read where the person is and who else is in the world ([`WorldView`]), and put a
//!   button beside each person in the People panel ([`PersonButtons`],
//!   [`Permission::Panels`]);
//! - show a picture from the person's files on a surface ([`decode_picture`]).
//!
//! A call outside the grants fails with a [`CapabilityError`] that says what is missing.
//! An app's systems run guarded: if one panics, the app is stopped and marked so in the
//! Apps panel, and the client goes on.
//!
//! Apps are Rust crates compiled into the client, so the grants bound what this API does
//! for them, not what their code could do by reaching around it (files, sockets, unsafe
//! code). That is why an app depends on this crate and Bevy (the client's version, for
//! its systems and components; egui comes re-exported from here) and never on `net`,
//! iroh or the client's own crates: a review can see at a glance what an app touches.
//!
//! The client's side of the API (delivering messages, drawing panels, keeping the
//! [`WorldView`] up to date) is in [`host`].

mod blobs;
mod data;
mod grants;
mod home;
pub mod host;
mod mailbox;
mod manifest;
mod messages;
mod panels;
mod people;
mod pictures;
mod setup;
mod wallet;
mod world;

pub use blobs::{
    BLOB_READ_MAX, BLOB_REPLIES_MAX, BLOB_REQUESTS_MAX, BlobInfo, BlobLibrary, BlobMail, BlobReply,
    BlobRequest, Blobs, FetchStatus,
};
pub use data::{AppData, AppDataError};
pub use grants::{CapabilityError, Grants, GrantsError};
pub use home::{HOME_CALLS_MAX, HOME_REPLIES_MAX, HomeCall, HomeLink, HomeMail, HomeNode, HomeReply};
pub use mailbox::Mailbox;
pub use manifest::{Manifest, Permission};
pub use messages::{AppMessages, IncomingAppMessage, SEND_BURST, SEND_RATE_PER_SEC};
pub use panels::PanelSpec;
pub use people::{PERSON_BUTTON_LABEL_MAX, PERSON_BUTTONS_MAX, PersonButtons};
pub use pictures::{decode_picture, is_picture};
pub use setup::{
    AppSetup, AppStatus, AppSystems, InstalledApp, InstalledApps, SanctuaryApp, SanctuaryAppExt,
};
pub use wallet::{
    KnownToken, PAYMENT_REFERENCE_MAX, PaymentAccount, PaymentTerms, PaymentVerdict, WALLET_REPLIES_MAX,
    WALLET_REQUESTS_MAX, WalletMail, WalletReply, WalletRequest, WalletRequests,
};
pub use world::{AppEntity, AppSpawner, EnteredSpace, Person, SpaceAnchor, WorldView};

/// egui, for drawing panels.
pub use bevy_egui::egui;
/// The largest app message, in bytes.
pub use sanctuary_protocols::limits::APP_PAYLOAD_MAX;
/// The wire protocol's plain types an app may need: ids and names.
pub use sanctuary_protocols::{AppName, BlobHash, PeerId};

/// What most apps need, in one `use`.
pub mod prelude {
    pub use crate::{
        AppData, AppEntity, AppMessages, AppSetup, AppSpawner, BlobHash, BlobInfo, BlobLibrary, BlobReply,
        BlobRequest, Blobs, CapabilityError, EnteredSpace, Manifest, PanelSpec, Permission, PersonButtons,
        SanctuaryApp, WalletReply, WalletRequest, WalletRequests, WorldView, egui,
    };
}
