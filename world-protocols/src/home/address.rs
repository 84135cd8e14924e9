//! [`HomeAddress`]: how to reach a home node (its key, direct addresses and relay), as one
//! line of text: `sanctuaryhome1` and lowercase base32 of a small postcard record, like a
//! world ticket. A person hands theirs to a friend to ask for friendship, and a device
//! keeps its node's after pairing.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::identity::PeerId;
use crate::world::{TICKET_MAX_ADDRS, TICKET_MAX_LEN, relay_url_is_valid};

/// Text every home address starts with; the trailing digit is the format version.
pub const HOME_ADDRESS_PREFIX: &str = "sanctuaryhome1";

/// How to reach a home node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeAddress {
    /// The node's key: the person's home identity.
    pub node: PeerId,
    /// A relay the node can be reached through, if any.
    pub relay: Option<String>,
    /// Its direct socket addresses, at most [`TICKET_MAX_ADDRS`].
    pub addrs: Vec<SocketAddr>,
}

impl HomeAddress {
    /// An address for `node`, keeping the first [`TICKET_MAX_ADDRS`] addresses and the relay
    /// only if it is a valid relay URL.
    pub fn new(node: PeerId, relay: Option<String>, addrs: impl IntoIterator<Item = SocketAddr>) -> Self {
        Self {
            node,
            relay: relay.filter(|url| relay_url_is_valid(url)),
            addrs: addrs.into_iter().take(TICKET_MAX_ADDRS).collect(),
        }
    }

    /// Whether the address keeps the limits a parsed one must: a valid key, at most
    /// [`TICKET_MAX_ADDRS`] addresses, a valid relay URL. Checked on addresses that come
    /// inside requests too.
    pub fn is_valid(&self) -> bool {
        self.node.is_valid_key()
            && self.addrs.len() <= TICKET_MAX_ADDRS
            && self.relay.as_deref().is_none_or(relay_url_is_valid)
    }
}

impl fmt::Display for HomeAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Serializing plain data into a Vec cannot fail.
        let bytes = postcard::to_allocvec(self).unwrap_or_default();
        write!(
            f,
            "{HOME_ADDRESS_PREFIX}{}",
            data_encoding::BASE32_NOPAD.encode(&bytes).to_ascii_lowercase()
        )
    }
}

/// Why text is not a [`HomeAddress`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseHomeAddressError {
    /// Longer than a ticket may be.
    #[error("{0} bytes is too long for a home address")]
    TooLong(usize),
    /// Not `sanctuaryhome1` and base32 of a valid address.
    #[error("not a Sanctuary home address (it should start with \"{HOME_ADDRESS_PREFIX}\")")]
    WrongPrefix,
    /// The prefix is right but the rest is not an address.
    #[error("the home address is damaged")]
    Damaged,
}

impl FromStr for HomeAddress {
    type Err = ParseHomeAddressError;

    /// Also takes the whole `home: ADDRESS` line a node prints.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let text = text.strip_prefix("home:").map_or(text, str::trim);
        if text.len() > TICKET_MAX_LEN {
            return Err(ParseHomeAddressError::TooLong(text.len()));
        }
        let body = text
            .get(..HOME_ADDRESS_PREFIX.len())
            .filter(|prefix| prefix.eq_ignore_ascii_case(HOME_ADDRESS_PREFIX))
            .and_then(|_| text.get(HOME_ADDRESS_PREFIX.len()..))
            .ok_or(ParseHomeAddressError::WrongPrefix)?;
        let bytes = data_encoding::BASE32_NOPAD
            .decode(body.to_ascii_uppercase().as_bytes())
            .map_err(|_| ParseHomeAddressError::Damaged)?;
        match postcard::take_from_bytes::<Self>(&bytes) {
            Ok((address, [])) if address.is_valid() => Ok(address),
            _ => Err(ParseHomeAddressError::Damaged),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Keypair;

    #[test]
    fn an_address_prints_and_parses_back_and_damage_is_refused() {
        let address = HomeAddress::new(
            Keypair::from_bytes(&[5; 32]).peer_id(),
            Some("https://relay.example.org".into()),
            ["127.0.0.1:4433".parse().unwrap()],
        );
        let text = address.to_string();
        assert!(text.starts_with(HOME_ADDRESS_PREFIX));
        assert_eq!(text.parse::<HomeAddress>(), Ok(address.clone()));
        assert_eq!(format!("home: {text}\n").parse::<HomeAddress>(), Ok(address));
        assert_eq!(
            "sanctuary1abc".parse::<HomeAddress>(),
            Err(ParseHomeAddressError::WrongPrefix)
        );
        let cut = &text[..text.len() - 3];
        assert_eq!(cut.parse::<HomeAddress>(), Err(ParseHomeAddressError::Damaged));
    }
}
