//! Messages that apps and mods exchange with their own copies on other peers.
//!
//! Each app speaks on its own namespaced channel inside the world: an [`AppMessage`] names
//! the app ([`AppName`]) and carries bytes only that app understands ([`AppPayload`]).
//! Like every world message it travels inside a [`SignedEnvelope`](crate::SignedEnvelope),
//! so the receiving copy knows for sure which person sent it; what the bytes mean, and
//! whether they are allowed, is the app's own business.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::limits::{APP_NAME_MAX, APP_PAYLOAD_MAX};
use crate::text::{SpaceName, TextError};

/// The name an app is known by: its channel in the world, its folder in the data folder,
/// and its line in the Apps panel. The same rules as a [`SpaceName`]: 1 to
/// [`APP_NAME_MAX`] bytes, each a lowercase ASCII letter, a digit or `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppName(String);

impl AppName {
    /// Checks `name` and wraps it.
    pub fn new(name: impl Into<String>) -> Result<Self, TextError> {
        let name = name.into();
        if name.len() > APP_NAME_MAX {
            return Err(TextError::TooLong {
                len: name.len(),
                max: APP_NAME_MAX,
            });
        }
        // Same alphabet as a space name, and a name that fits one is short enough here.
        SpaceName::new(name.clone())?;
        Ok(Self(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AppName {
    type Error = TextError;
    fn try_from(name: String) -> Result<Self, TextError> {
        Self::new(name)
    }
}

impl From<AppName> for String {
    fn from(name: AppName) -> String {
        name.0
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The bytes of one app message: at most [`APP_PAYLOAD_MAX`].
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<u8>", into = "Vec<u8>")]
pub struct AppPayload(Vec<u8>);

impl AppPayload {
    /// Wraps `bytes` if they fit.
    pub fn new(bytes: Vec<u8>) -> Result<Self, PayloadTooLarge> {
        if bytes.len() > APP_PAYLOAD_MAX {
            return Err(PayloadTooLarge(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, unwrapped.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl fmt::Debug for AppPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppPayload({} bytes)", self.0.len())
    }
}

impl TryFrom<Vec<u8>> for AppPayload {
    type Error = PayloadTooLarge;
    fn try_from(bytes: Vec<u8>) -> Result<Self, PayloadTooLarge> {
        Self::new(bytes)
    }
}

impl From<AppPayload> for Vec<u8> {
    fn from(payload: AppPayload) -> Vec<u8> {
        payload.0
    }
}

/// An app message over [`APP_PAYLOAD_MAX`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an app message of {0} bytes, over the limit of {APP_PAYLOAD_MAX}")]
pub struct PayloadTooLarge(pub usize);

/// One app's message to its copies on the other peers of the world.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AppMessage {
    /// Which app it is for.
    pub app: AppName,
    /// What it says, in the app's own encoding.
    pub payload: AppPayload,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_follow_space_name_rules() {
        assert!(AppName::new("chess").is_ok());
        assert!(AppName::new("photo-album-2").is_ok());
        assert_eq!(AppName::new(""), Err(TextError::Empty));
        assert_eq!(AppName::new("Chess"), Err(TextError::NotAllowed('C')));
        assert!(matches!(
            AppName::new("x".repeat(APP_NAME_MAX + 1)),
            Err(TextError::TooLong { .. })
        ));
    }

    #[test]
    fn payloads_are_capped_on_the_way_in_and_when_decoded() {
        assert!(AppPayload::new(vec![0; APP_PAYLOAD_MAX]).is_ok());
        assert_eq!(
            AppPayload::new(vec![0; APP_PAYLOAD_MAX + 1]),
            Err(PayloadTooLarge(APP_PAYLOAD_MAX + 1))
        );
        let too_long = postcard::to_allocvec(&vec![7u8; APP_PAYLOAD_MAX + 1]).unwrap();
        assert!(postcard::from_bytes::<AppPayload>(&too_long).is_err());
        let fits = postcard::to_allocvec(&vec![7u8; 3]).unwrap();
        assert_eq!(
            postcard::from_bytes::<AppPayload>(&fits).unwrap().as_bytes(),
            &[7, 7, 7]
        );
    }
}
