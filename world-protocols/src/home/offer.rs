//! Befriending someone met in the world: the Home app on one person's client tells the
//! Home app on the other's which node to ask, as an app message ([`FriendOffer`]).
//!
//! The message is text: `offer ADDRESS` ("let us be friends; this is my node"),
//! `accept ADDRESS` ("yes; this is mine") or `decline` ("no, thank you"). It only says
//! where to send a friend request:
//! each person's node still asks the other, and a node takes a friend only when its own
//! person asked for them too.

use crate::home::HomeAddress;
use crate::limits::APP_PAYLOAD_MAX;

/// One Home app's word to another about befriending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FriendOffer {
    /// "Let us be friends: my node is at this address."
    Offer(HomeAddress),
    /// "Yes: my node is at this address."
    Accept(HomeAddress),
    /// "No, thank you."
    Decline,
}

/// Why bytes are not a [`FriendOffer`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FriendOfferError {
    /// Longer than an app message.
    #[error("{0} bytes, longer than an app message")]
    TooLong(usize),
    /// Not `offer ADDRESS`, `accept ADDRESS` or `decline`.
    #[error("not a friend offer")]
    Unknown,
    /// The address is not one.
    #[error("the address: {0}")]
    Address(#[from] crate::home::ParseHomeAddressError),
}

impl FriendOffer {
    /// The message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Offer(address) => format!("offer {address}"),
            Self::Accept(address) => format!("accept {address}"),
            Self::Decline => "decline".to_owned(),
        }
        .into_bytes()
    }

    /// Reads a message from exactly `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Self, FriendOfferError> {
        if bytes.len() > APP_PAYLOAD_MAX {
            return Err(FriendOfferError::TooLong(bytes.len()));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| FriendOfferError::Unknown)?;
        if text == "decline" {
            return Ok(Self::Decline);
        }
        let (word, address) = text.split_once(' ').ok_or(FriendOfferError::Unknown)?;
        if address.trim() != address || address.starts_with("home:") {
            return Err(FriendOfferError::Unknown);
        }
        match word {
            "offer" => Ok(Self::Offer(address.parse()?)),
            "accept" => Ok(Self::Accept(address.parse()?)),
            _ => Err(FriendOfferError::Unknown),
        }
    }

    /// The address it carries, if any.
    pub fn address(&self) -> Option<&HomeAddress> {
        match self {
            Self::Offer(address) | Self::Accept(address) => Some(address),
            Self::Decline => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_round_trip_and_anything_else_is_refused() {
        let address = HomeAddress::new(
            crate::identity::Keypair::generate().unwrap().peer_id(),
            None,
            ["127.0.0.1:4000".parse().unwrap()],
        );
        for offer in [
            FriendOffer::Offer(address.clone()),
            FriendOffer::Accept(address.clone()),
        ] {
            assert_eq!(FriendOffer::decode(&offer.encode()), Ok(offer.clone()));
            assert_eq!(offer.address(), Some(&address));
        }
        assert_eq!(FriendOffer::decode(b"decline"), Ok(FriendOffer::Decline));
        assert_eq!(FriendOffer::Decline.address(), None);
        assert_eq!(FriendOffer::decode(b"decline "), Err(FriendOfferError::Unknown));
        assert_eq!(
            FriendOffer::decode(format!("hug {address}").as_bytes()),
            Err(FriendOfferError::Unknown)
        );
        assert_eq!(FriendOffer::decode(b"offer"), Err(FriendOfferError::Unknown));
        assert!(matches!(
            FriendOffer::decode(b"offer sanctuaryhome1zzz"),
            Err(FriendOfferError::Address(_))
        ));
        assert_eq!(
            FriendOffer::decode(&[b'a'; APP_PAYLOAD_MAX + 1]),
            Err(FriendOfferError::TooLong(APP_PAYLOAD_MAX + 1))
        );
    }
}
