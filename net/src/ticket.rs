//! World tickets meet the transport: the ticket codec itself is in
//! [`sanctuary_protocols::world`]; here a ticket becomes an iroh [`EndpointAddr`] to dial,
//! and this node's address becomes a ticket.

use iroh::{EndpointAddr, EndpointId, RelayUrl, TransportAddr};
use sanctuary_protocols::world::TICKET_MAX_ADDRS;
use sanctuary_protocols::{WorldId, WorldTicket};

/// How to dial the peer a ticket names: its id, its direct addresses and its relay (a relay
/// URL that iroh cannot use is left out, with a warning).
pub fn endpoint_addr(ticket: &WorldTicket) -> Option<EndpointAddr> {
    let id = EndpointId::from_bytes(ticket.host.as_bytes()).ok()?;
    let mut addrs: Vec<TransportAddr> = ticket.addrs.iter().copied().map(TransportAddr::Ip).collect();
    if let Some(relay) = &ticket.relay {
        match relay.parse::<RelayUrl>() {
            Ok(url) => addrs.push(TransportAddr::Relay(url)),
            Err(err) => tracing::warn!(%relay, %err, "the ticket's relay URL is not usable"),
        }
    }
    Some(EndpointAddr::from_parts(id, addrs))
}

/// A ticket for `world` naming the peer at `addr` (its first relay, if any, and its first
/// direct addresses).
pub(crate) fn ticket_for(world: WorldId, addr: &EndpointAddr) -> WorldTicket {
    WorldTicket::new(
        world,
        crate::node::peer_id(addr.id),
        addr.relay_urls().next().map(|url| url.to_string()),
        addr.ip_addrs().copied().take(TICKET_MAX_ADDRS),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_round_trips_through_an_endpoint_address() {
        let key = iroh::SecretKey::from_bytes(&[7; 32]);
        let url: RelayUrl = "https://relay.example.org".parse().unwrap();
        let addr = EndpointAddr::new(key.public())
            .with_ip_addr("127.0.0.1:4433".parse().unwrap())
            .with_relay_url(url.clone());
        let ticket = ticket_for(WorldId([3; 32]), &addr);
        let parsed: WorldTicket = ticket.to_string().parse().unwrap();
        let back = endpoint_addr(&parsed).unwrap();
        assert_eq!(back.id, addr.id);
        assert_eq!(back.relay_urls().next(), Some(&url));
        assert_eq!(
            back.ip_addrs().collect::<Vec<_>>(),
            addr.ip_addrs().collect::<Vec<_>>()
        );
    }
}
