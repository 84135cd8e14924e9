//! Who this person is: their key (the root of everything they sign, and their iroh
//! endpoint id) and their profile (name, avatar colour and shape), kept in the data
//! folder. The key file is readable by its owner only.

mod panel;
mod store;

pub use panel::{ProfileChanged, ProfilePanelPlugin};
pub use store::{Identity, IdentityError, Profile, load_or_create};
