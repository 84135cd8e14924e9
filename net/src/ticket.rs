//! World ids and world tickets: what a host hands out so that others can join.
//!
//! A [`WorldTicket`] names a world ([`WorldId`]) and how to reach its host (the host's
//! endpoint id plus direct addresses and an optional relay). It prints as one line of text,
//! `sanctuary1` followed by lowercase base32 (no padding) of a small postcard record, and
//! parses back with [`str::parse`]. Anything else is refused with a [`ParseTicketError`].

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use iroh::{EndpointAddr, EndpointId, RelayUrl, TransportAddr};
use serde::{Deserialize, Serialize};

use sanctuary_protocols::PeerId;

/// Text every ticket starts with; the trailing digit is the ticket format version.
pub const TICKET_PREFIX: &str = "sanctuary1";

/// Longest ticket text accepted, in bytes. Refused before decoding.
pub const TICKET_MAX_LEN: usize = 2048;

/// Most direct addresses kept in a ticket.
pub const TICKET_MAX_ADDRS: usize = 16;

/// Longest relay URL kept in a ticket, in bytes.
const RELAY_URL_MAX: usize = 256;

/// Base32 without padding, lowercase, as in iroh's own tickets.
const ENCODING: data_encoding::Encoding = data_encoding::BASE32_NOPAD_NOCASE;

/// A world: one hosted set of spaces. 32 random bytes; the gossip topics of the world and of
/// each of its spaces are derived from it.
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

/// How to enter a world: its id and the address of a peer already in it (usually the host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldTicket {
    /// The world to join.
    pub world: WorldId,
    /// A peer to bootstrap from: its endpoint id and the addresses it can be dialed at.
    pub host: EndpointAddr,
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
    /// A ticket for `world` whose bootstrap peer is `host`.
    pub fn new(world: WorldId, host: EndpointAddr) -> Self {
        Self { world, host }
    }

    /// The bootstrap peer's id.
    pub fn host_peer(&self) -> PeerId {
        PeerId::from_bytes(*self.host.id.as_bytes())
    }

    fn to_wire(&self) -> TicketWire {
        TicketWire {
            world: self.world.0,
            host: *self.host.id.as_bytes(),
            relay: self
                .host
                .relay_urls()
                .map(|url| url.to_string())
                .find(|url| url.len() <= RELAY_URL_MAX),
            addrs: self.host.ip_addrs().copied().take(TICKET_MAX_ADDRS).collect(),
        }
    }
}

impl fmt::Display for WorldTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Serializing plain data into a Vec cannot fail; an empty ticket would be refused
        // by every parser anyway.
        let bytes = postcard::to_allocvec(&self.to_wire()).unwrap_or_default();
        write!(
            f,
            "{TICKET_PREFIX}{}",
            ENCODING.encode(&bytes).to_ascii_lowercase()
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
    /// The host's endpoint id is not a valid ed25519 public key.
    #[error("ticket names an invalid host key")]
    InvalidHost,
    /// The relay URL does not parse.
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
        let bytes = ENCODING
            .decode(body.as_bytes())
            .map_err(|_| ParseTicketError::NotBase32)?;
        let (wire, rest) =
            postcard::take_from_bytes::<TicketWire>(&bytes).map_err(|_| ParseTicketError::Malformed)?;
        if !rest.is_empty() {
            return Err(ParseTicketError::Malformed);
        }
        if wire.addrs.len() > TICKET_MAX_ADDRS {
            return Err(ParseTicketError::TooManyAddrs);
        }
        let id = EndpointId::from_bytes(&wire.host).map_err(|_| ParseTicketError::InvalidHost)?;
        let mut addrs: Vec<TransportAddr> = wire.addrs.into_iter().map(TransportAddr::Ip).collect();
        if let Some(relay) = wire.relay {
            if relay.len() > RELAY_URL_MAX {
                return Err(ParseTicketError::InvalidRelay);
            }
            let url: RelayUrl = relay.parse().map_err(|_| ParseTicketError::InvalidRelay)?;
            addrs.push(TransportAddr::Relay(url));
        }
        Ok(Self {
            world: WorldId(wire.world),
            host: EndpointAddr::from_parts(id, addrs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> EndpointAddr {
        let key = iroh::SecretKey::from_bytes(&[7; 32]);
        EndpointAddr::new(key.public())
            .with_ip_addr("127.0.0.1:4433".parse().unwrap())
            .with_ip_addr("[::1]:4434".parse().unwrap())
    }

    #[test]
    fn round_trips_through_text() {
        let ticket = WorldTicket::new(WorldId([3; 32]), host());
        let text = ticket.to_string();
        assert!(text.starts_with(TICKET_PREFIX));
        assert!(!text.contains(char::is_whitespace));
        assert!(text.len() < 200, "{} bytes: {text}", text.len());
        assert_eq!(text.parse::<WorldTicket>(), Ok(ticket.clone()));
        assert_eq!(text.to_ascii_uppercase().parse::<WorldTicket>(), Ok(ticket));
    }

    #[test]
    fn keeps_a_relay_url() {
        let url: RelayUrl = "https://relay.example.org".parse().unwrap();
        let ticket = WorldTicket::new(WorldId([1; 32]), host().with_relay_url(url.clone()));
        let parsed: WorldTicket = ticket.to_string().parse().unwrap();
        assert_eq!(parsed.host.relay_urls().next(), Some(&url));
    }

    #[test]
    fn refuses_wrong_tickets_clearly() {
        assert_eq!("".parse::<WorldTicket>(), Err(ParseTicketError::WrongPrefix));
        assert_eq!("hello".parse::<WorldTicket>(), Err(ParseTicketError::WrongPrefix));
        assert_eq!(
            "endpointabcdef".parse::<WorldTicket>(),
            Err(ParseTicketError::WrongPrefix)
        );
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
        let text = WorldTicket::new(WorldId([3; 32]), host()).to_string();
        let cut = &text[..text.len() - 5];
        assert!(cut.parse::<WorldTicket>().is_err());
        let message = "hello".parse::<WorldTicket>().unwrap_err().to_string();
        assert!(message.contains("sanctuary1"), "{message}");
    }

    #[test]
    fn random_world_ids_differ() {
        assert_ne!(WorldId::random().unwrap(), WorldId::random().unwrap());
    }
}
