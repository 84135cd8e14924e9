//! The personal server's wire ([`ALPN_HOME`](crate::alpn::ALPN_HOME)): what a person's
//! devices, their friends' nodes and the apps they let in say to a home node.
//!
//! A home node is one person's always-on server. Its key is the person's home identity:
//! it signs what the person posts, comments and likes ([`SignedItem`]), and a friend's
//! node knows which person it talks to because the QUIC connection proves the key.
//! Devices are paired with a code the node shows ([`Request::Pair`]) and then act as
//! the owner; apps act only within a [`Grant`].
//!
//! Every connection carries requests on bidirectional streams: one [`Request`] per
//! stream (a version byte, then postcard), answered by one [`Response`] on the same
//! stream. The node decides who the caller is from the connection alone ([`Role`]), so
//! it knows how many bytes it will read before it reads them
//! ([`request_max`]).
//!
//! - [`item`]: posts, comments, likes and deletions, signed by their author.
//! - [`request`]: requests, responses and the views they carry.
//! - [`address`]: [`HomeAddress`], how to reach a node, printable as text.
//! - [`offer`]: [`FriendOffer`], what two people's Home apps say to befriend in the world.

pub mod address;
pub mod item;
pub mod offer;
pub mod request;

pub use address::{HOME_ADDRESS_PREFIX, HomeAddress, ParseHomeAddressError};
pub use item::{
    Audience, GROUP_MAX, ITEM_TEXT_MAX, Item, ItemBody, ItemError, ItemId, PICTURE_NAME_MAX, PICTURES_MAX,
    ParseItemIdError, Picture, SignedItem, check_text,
};
pub use offer::{FriendOffer, FriendOfferError};
pub use request::{
    Access, AccessEntry, ChangeMark, DeviceView, FileView, FriendState, FriendView, Grant, HomeDecodeError,
    InboxEntry, NodeStatus, Profile, Refusal, Request, Response, Role, Scope, Upload, WallPost, request_max,
};
