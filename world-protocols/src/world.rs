//! Worlds and world tickets: what a host hands out so that others can join.
//!
//! A [`WorldId`] names one hosted set of spaces; every signature is made for one world
//! (see [`Channel`](crate::message::Channel)), so nothing said in one world can be replayed
//! into another.
//!
//! A [`WorldTicket`] names a world and how to reach a peer already in it (its id, direct
//! socket addresses and an optional relay URL). It prints as one line of text,
//! `sanctuary1` followed by lowercase base32 (no padding) of a small postcard record, and
//! parses back with [`str::parse`]. Anything else is refused with a [`ParseTicketError`].
//! The codec lives here, with no transport, so its fuzz target needs nothing else.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::identity::PeerId;

/// Text every ticket starts with; the trailing digit is the ticket format version.
pub const TICKET_PREFIX: &str = "sanctuary1";

/// Longest ticket text accepted, in bytes. Refused before decoding.
pub const TICKET_MAX_LEN: usize = 2048;

/// Most direct addresses kept in a ticket.
pub const TICKET_MAX_ADDRS: usize = 16;

/// Longest relay URL kept in a ticket, in bytes.
pub const RELAY_URL_MAX: usize = 256;

/// A world: one hosted set of spaces. 32 random bytes; the gossip topics of the world and of
/// each of its spaces are derived from it, and every signature covers it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorldId(pub [u8; 32]);

impl WorldId {
    /// A fresh random world id, from the operating system's randomness.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for WorldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WorldId({self})")
    }
}

impl fmt::Display for WorldId {
    /// The first 8 bytes in hex: enough to tell worlds apart in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0[..8] {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// How to enter a world: its id and how to reach a peer already in it (usually the host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldTicket {
    /// The world to join.
    pub world: WorldId,
    /// The peer to bootstrap from.
    pub host: PeerId,
    /// A relay the host can be reached through (`http://` or `https://`), if any.
    pub relay: Option<String>,
    /// The host's direct socket addresses, at most [`TICKET_MAX_ADDRS`].
    pub addrs: Vec<SocketAddr>,
}

/// The bytes inside a ticket's text. Field order is part of the ticket format.
#[derive(Serialize, Deserialize)]
struct TicketWire {
    world: [u8; 32],
    host: [u8; 32],
    relay: Option<String>,
    addrs: Vec<SocketAddr>,
}

impl WorldTicket {
    /// A ticket for `world` whose bootstrap peer is `host`, keeping the first
    /// [`TICKET_MAX_ADDRS`] addresses and the relay only if it is a valid relay URL.
    pub fn new(
        world: WorldId,
        host: PeerId,
        relay: Option<String>,
        addrs: impl IntoIterator<Item = SocketAddr>,
    ) -> Self {
        Self {
            world,
            host,
            relay: relay.filter(|url| relay_url_is_valid(url)),
            addrs: addrs.into_iter().take(TICKET_MAX_ADDRS).collect(),
        }
    }
}

/// Whether `url` may stand in a ticket as a relay: `http://` or `https://`, at most
/// [`RELAY_URL_MAX`] bytes, printable ASCII with no spaces.
pub fn relay_url_is_valid(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    url.len() <= RELAY_URL_MAX
        && rest.is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_graphic()))
}

impl fmt::Display for WorldTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wire = TicketWire {
            world: self.world.0,
            host: *self.host.as_bytes(),
            relay: self.relay.clone(),
            addrs: self.addrs.clone(),
        };
        // Serializing plain data into a Vec cannot fail; an empty ticket would be refused
        // by every parser anyway.
        let bytes = postcard::to_allocvec(&wire).unwrap_or_default();
        write!(
            f,
            "{TICKET_PREFIX}{}",
            data_encoding::BASE32_NOPAD.encode(&bytes).to_ascii_lowercase()
        )
    }
}

/// Why text is not a [`WorldTicket`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseTicketError {
    /// Longer than [`TICKET_MAX_LEN`].
    #[error("ticket of {0} bytes is too long to be a Sanctuary world ticket")]
    TooLong(usize),
    /// Does not start with [`TICKET_PREFIX`].
    #[error("not a Sanctuary world ticket (it should start with \"{TICKET_PREFIX}\")")]
    WrongPrefix,
    /// The text after the prefix is not base32.
    #[error("ticket is damaged: not base32 after the prefix")]
    NotBase32,
    /// The decoded bytes are not a ticket record.
    #[error("ticket is damaged: its contents do not decode")]
    Malformed,
    /// The host's id is not a valid ed25519 public key.
    #[error("ticket names an invalid host key")]
    InvalidHost,
    /// The relay URL is not a valid relay URL.
    #[error("ticket names an invalid relay URL")]
    InvalidRelay,
    /// More than [`TICKET_MAX_ADDRS`] addresses.
    #[error("ticket lists too many addresses")]
    TooManyAddrs,
}

impl FromStr for WorldTicket {
    type Err = ParseTicketError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.len() > TICKET_MAX_LEN {
            return Err(ParseTicketError::TooLong(text.len()));
        }
        let body = text
            .get(..TICKET_PREFIX.len())
            .filter(|prefix| prefix.eq_ignore_ascii_case(TICKET_PREFIX))
            .and_then(|_| text.get(TICKET_PREFIX.len()..))
            .ok_or(ParseTicketError::WrongPrefix)?;
        let bytes = data_encoding::BASE32_NOPAD
            .decode(body.to_ascii_uppercase().as_bytes())
            .map_err(|_| ParseTicketError::NotBase32)?;
        let (wire, rest) =
            postcard::take_from_bytes::<TicketWire>(&bytes).map_err(|_| ParseTicketError::Malformed)?;
        if !rest.is_empty() {
            return Err(ParseTicketError::Malformed);
        }
        if wire.addrs.len() > TICKET_MAX_ADDRS {
            return Err(ParseTicketError::TooManyAddrs);
        }
        let host = PeerId::from_bytes(wire.host);
        if !host.is_valid_key() {
            return Err(ParseTicketError::InvalidHost);
        }
        if wire.relay.as_deref().is_some_and(|url| !relay_url_is_valid(url)) {
            return Err(ParseTicketError::InvalidRelay);
        }
        Ok(Self {
            world: WorldId(wire.world),
            host,
            relay: wire.relay,
            addrs: wire.addrs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Keypair;

    fn ticket() -> WorldTicket {
        WorldTicket::new(
            WorldId([3; 32]),
            Keypair::from_bytes(&[7; 32]).peer_id(),
            None,
            ["127.0.0.1:4433".parse().unwrap(), "[::1]:4434".parse().unwrap()],
        )
    }

    #[test]
    fn round_trips_through_text() {
        let ticket = ticket();
        let text = ticket.to_string();
        assert!(text.starts_with(TICKET_PREFIX));
        assert!(!text.contains(char::is_whitespace));
        assert!(text.len() < 200, "{} bytes: {text}", text.len());
        assert_eq!(text.parse::<WorldTicket>(), Ok(ticket.clone()));
        assert_eq!(text.to_ascii_uppercase().parse::<WorldTicket>(), Ok(ticket));
    }

    #[test]
    fn keeps_a_relay_url_and_drops_a_bad_one() {
        let mut with_relay = ticket();
        with_relay.relay = Some("https://relay.example.org".into());
        let parsed: WorldTicket = with_relay.to_string().parse().unwrap();
        assert_eq!(parsed.relay.as_deref(), Some("https://relay.example.org"));
        let dropped = WorldTicket::new(WorldId([1; 32]), ticket().host, Some("ftp://x".into()), []);
        assert_eq!(dropped.relay, None);
        let mut bad = ticket();
        bad.relay = Some("https://a b".into());
        assert_eq!(
            bad.to_string().parse::<WorldTicket>(),
            Err(ParseTicketError::InvalidRelay)
        );
    }

    #[test]
    fn refuses_wrong_tickets_clearly() {
        assert_eq!("".parse::<WorldTicket>(), Err(ParseTicketError::WrongPrefix));
        assert_eq!("hello".parse::<WorldTicket>(), Err(ParseTicketError::WrongPrefix));
        assert_eq!(
            "sanctuary1!!".parse::<WorldTicket>(),
            Err(ParseTicketError::NotBase32)
        );
        assert_eq!(
            "sanctuary1aaaa".parse::<WorldTicket>(),
            Err(ParseTicketError::Malformed)
        );
        let long = format!("{TICKET_PREFIX}{}", "a".repeat(TICKET_MAX_LEN));
        assert!(matches!(
            long.parse::<WorldTicket>(),
            Err(ParseTicketError::TooLong(_))
        ));
        let text = ticket().to_string();
        assert!(text[..text.len() - 5].parse::<WorldTicket>().is_err());
        let message = "hello".parse::<WorldTicket>().unwrap_err().to_string();
        assert!(message.contains("sanctuary1"), "{message}");
        let mut too_many = ticket();
        too_many.addrs = (0..=TICKET_MAX_ADDRS as u16)
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
            .collect();
        assert_eq!(
            too_many.to_string().parse::<WorldTicket>(),
            Err(ParseTicketError::TooManyAddrs)
        );
    }

    #[test]
    fn random_world_ids_differ() {
        assert_ne!(WorldId::random().unwrap(), WorldId::random().unwrap());
    }
}
