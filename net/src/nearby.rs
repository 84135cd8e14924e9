//! Worlds hosted nearby: what `--lan` finds on the local network, with no ticket and no
//! internet.
//!
//! With [`NodeConfig::local_discovery`](crate::NodeConfig::local_discovery) a node runs
//! iroh's mDNS address lookup, which publishes the node's addresses on the local network
//! and hears those of everyone else there. A host adds a [`WorldAnnouncement`] to what it
//! publishes ([`Node::announce_world`]); iroh carries it as the record's user data. The
//! node reads every record it hears and keeps the worlds announced nearby in a
//! [`NearbyWorlds`] list, which [`Node::nearby`] watches.
//!
//! Anything on a local network can publish anything, so:
//! - a record counts only when its user data parses as an announcement exactly
//!   ([`WorldAnnouncement`]'s parser is strict);
//! - only its first [`TICKET_MAX_ADDRS`] addresses are kept;
//! - at most [`NEARBY_MAX`] worlds are listed, one per host; a newcomer past that
//!   replaces the world whose record changed longest ago.
//!
//! A world leaves the list when its host's record expires (mDNS forgets a peer it has not
//! heard from for about three of its announcement rounds, a few seconds on a quiet
//! network) or comes back without an announcement. Joining needs only what a ticket holds
//! ([`NearbyWorld::ticket`]); the host's key is then proven by the connection itself, so a
//! forged record can waste a click but cannot pass for someone else's world.

use std::net::SocketAddr;
use std::sync::Arc;

use iroh::EndpointId;
use iroh::address_lookup::EndpointInfo;
use n0_future::task::AbortOnDropHandle;
use sanctuary_protocols::world::TICKET_MAX_ADDRS;
use sanctuary_protocols::{DisplayName, PeerId, WorldAnnouncement, WorldId, WorldTicket};
use tokio::sync::watch;

use crate::error::NetError;
use crate::node::{Node, peer_id};

/// Most worlds listed as nearby at once.
pub const NEARBY_MAX: usize = 64;

/// A world hosted on the local network, as its host announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearbyWorld {
    /// The world.
    pub world: WorldId,
    /// Who announces it (its host): the peer a join dials first.
    pub host: PeerId,
    /// The host's display name, as announced.
    pub host_name: DisplayName,
    /// Where the host listens, at most [`TICKET_MAX_ADDRS`].
    pub addrs: Vec<SocketAddr>,
    /// The host's relay, if it announces one.
    pub relay: Option<String>,
}

impl NearbyWorld {
    /// The ticket to join this world with: the same a host's `ticket:` line would give.
    pub fn ticket(&self) -> WorldTicket {
        WorldTicket::new(
            self.world,
            self.host,
            self.relay.clone(),
            self.addrs.iter().copied(),
        )
    }

    /// The world a peer's mDNS record announces, if its user data is an announcement.
    pub(crate) fn from_record(record: &EndpointInfo) -> Option<Self> {
        let announcement: WorldAnnouncement = record.data.user_data()?.as_ref().parse().ok()?;
        Some(Self {
            world: announcement.world,
            host: peer_id(record.endpoint_id),
            host_name: announcement.host_name,
            addrs: record.data.ip_addrs().copied().take(TICKET_MAX_ADDRS).collect(),
            relay: record.data.relay_urls().next().map(|url| url.to_string()),
        })
    }
}

/// The worlds hosted nearby, one per host, at most [`NEARBY_MAX`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NearbyWorlds {
    /// Oldest change first.
    worlds: Vec<NearbyWorld>,
}

impl NearbyWorlds {
    /// The worlds, the one whose record changed longest ago first.
    pub fn iter(&self) -> impl Iterator<Item = &NearbyWorld> {
        self.worlds.iter()
    }

    /// How many worlds are listed.
    pub fn len(&self) -> usize {
        self.worlds.len()
    }

    /// Whether no world is listed.
    pub fn is_empty(&self) -> bool {
        self.worlds.is_empty()
    }

    /// The world `host` announces, if listed.
    pub fn hosted_by(&self, host: PeerId) -> Option<&NearbyWorld> {
        self.worlds.iter().find(|world| world.host == host)
    }
}

#[cfg_attr(
    not(feature = "local-discovery"),
    expect(dead_code, reason = "records come only from mDNS")
)]
impl NearbyWorlds {
    /// Lists `world` (replacing what its host announced before), past [`NEARBY_MAX`] in
    /// place of the oldest. Returns whether the list changed.
    fn found(&mut self, world: NearbyWorld) -> bool {
        match self.worlds.iter().position(|known| known.host == world.host) {
            Some(index) if self.worlds[index] == world => return false,
            Some(index) => {
                self.worlds.remove(index);
            }
            None if self.worlds.len() >= NEARBY_MAX => {
                self.worlds.remove(0);
            }
            None => {}
        }
        self.worlds.push(world);
        true
    }

    /// Forgets the world `host` announced. Returns whether there was one.
    fn gone(&mut self, host: PeerId) -> bool {
        let before = self.worlds.len();
        self.worlds.retain(|world| world.host != host);
        self.worlds.len() != before
    }

    /// Takes in one mDNS record: what `host` publishes now, `None` when it expired.
    fn heard(&mut self, host: PeerId, record: Option<&EndpointInfo>) -> bool {
        match record.and_then(NearbyWorld::from_record) {
            Some(world) => self.found(world),
            None => self.gone(host),
        }
    }
}

/// Watches the worlds hosted nearby. Made by [`Node::nearby`].
#[derive(Debug, Clone)]
pub struct Nearby {
    worlds: watch::Receiver<NearbyWorlds>,
}

impl Nearby {
    /// The worlds listed now.
    pub fn current(&self) -> NearbyWorlds {
        self.worlds.borrow().clone()
    }

    /// Waits until the list changes and returns it; `None` once the node has shut down.
    pub async fn changed(&mut self) -> Option<NearbyWorlds> {
        self.worlds.changed().await.ok()?;
        Some(self.worlds.borrow_and_update().clone())
    }
}

/// The node's local-network lookup: iroh's mDNS address lookup and the task that lists
/// the worlds announced in what it hears.
#[derive(Debug, Clone)]
pub(crate) struct LocalDiscovery {
    #[cfg(feature = "local-discovery")]
    mdns: iroh_mdns_address_lookup::MdnsAddressLookup,
    worlds: watch::Receiver<NearbyWorlds>,
    _listing: Arc<AbortOnDropHandle<()>>,
}

#[cfg(feature = "local-discovery")]
const _: () = assert!(
    sanctuary_protocols::announce::ANNOUNCEMENT_MAX_LEN <= iroh::address_lookup::UserData::MAX_LENGTH,
    "an announcement must fit in mDNS user data"
);

impl LocalDiscovery {
    /// Starts mDNS for the endpoint `id` and listens from the first record on (records
    /// are only reported when they change, so listening must not start late).
    #[cfg(feature = "local-discovery")]
    pub(crate) async fn start(id: EndpointId) -> Result<Self, NetError> {
        use iroh_mdns_address_lookup::{DiscoveryEvent, MdnsAddressLookup};
        use n0_future::StreamExt;

        let mdns = MdnsAddressLookup::builder()
            .build(id)
            .map_err(|err| NetError::LocalDiscovery(err.to_string()))?;
        let mut records = mdns.subscribe().await;
        let (publish, worlds) = watch::channel(NearbyWorlds::default());
        let listing = tokio::spawn(async move {
            while let Some(event) = records.next().await {
                let (host, record) = match &event {
                    DiscoveryEvent::Discovered { endpoint_info, .. } => {
                        (endpoint_info.endpoint_id, Some(endpoint_info))
                    }
                    DiscoveryEvent::Expired { endpoint_id } => (*endpoint_id, None),
                    _ => continue,
                };
                publish.send_if_modified(|worlds| worlds.heard(peer_id(host), record));
            }
        });
        Ok(Self {
            mdns,
            worlds,
            _listing: Arc::new(AbortOnDropHandle::new(listing)),
        })
    }

    /// Without the `local-discovery` feature there is no mDNS.
    #[cfg(not(feature = "local-discovery"))]
    pub(crate) async fn start(_id: EndpointId) -> Result<Self, NetError> {
        Err(NetError::LocalDiscoveryUnavailable)
    }

    /// Adds the lookup to an endpoint being built.
    pub(crate) fn add_to(&self, builder: iroh::endpoint::Builder) -> iroh::endpoint::Builder {
        #[cfg(feature = "local-discovery")]
        let builder = builder.address_lookup(self.mdns.clone());
        builder
    }
}

impl Node {
    /// Announces `announcement` on the local network with this node's addresses, or stops
    /// announcing (`None`). Needs [`NodeConfig::local_discovery`](crate::NodeConfig).
    pub fn announce_world(&self, announcement: Option<&WorldAnnouncement>) -> Result<(), NetError> {
        if self.local.is_none() {
            return Err(NetError::LocalDiscoveryOff);
        }
        let user_data = announcement
            .map(|announcement| announcement.to_string().try_into())
            .transpose()
            .map_err(|err| NetError::LocalDiscovery(format!("announcement too long: {err}")))?;
        self.endpoint.set_user_data_for_address_lookup(user_data);
        Ok(())
    }

    /// Watches the worlds announced on the local network. Needs
    /// [`NodeConfig::local_discovery`](crate::NodeConfig).
    pub fn nearby(&self) -> Result<Nearby, NetError> {
        let local = self.local.as_ref().ok_or(NetError::LocalDiscoveryOff)?;
        Ok(Nearby {
            worlds: local.worlds.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iroh::address_lookup::EndpointData;
    use iroh::{SecretKey, TransportAddr};

    fn host(n: u8) -> EndpointId {
        SecretKey::from_bytes(&[n; 32]).public()
    }

    fn record(id: EndpointId, user_data: &str, addrs: usize) -> EndpointInfo {
        let data = EndpointData::from_iter(
            (0..addrs).map(|port| TransportAddr::Ip(SocketAddr::from(([10, 0, 0, 1], port as u16)))),
        )
        .with_user_data(user_data.parse().unwrap());
        EndpointInfo::from_parts(id, data)
    }

    fn announcement(world: u8, name: &str) -> String {
        WorldAnnouncement {
            world: WorldId([world; 32]),
            host_name: DisplayName::new(name).unwrap(),
        }
        .to_string()
    }

    #[test]
    fn a_valid_announcement_becomes_a_world_with_the_ticket_a_host_would_give() {
        let info = record(host(1), &announcement(9, "Ada"), 2);
        let world = NearbyWorld::from_record(&info).expect("valid");
        assert_eq!(world.world, WorldId([9; 32]));
        assert_eq!(world.host, peer_id(host(1)));
        assert_eq!(world.host_name.as_str(), "Ada");
        let ticket = world.ticket();
        assert_eq!(ticket.to_string().parse::<WorldTicket>(), Ok(ticket.clone()));
        assert_eq!((ticket.world, ticket.host), (world.world, world.host));
        assert_eq!(ticket.addrs, world.addrs);
        assert_eq!(ticket.addrs.len(), 2);
    }

    #[test]
    fn junk_is_not_a_world_and_addresses_are_bounded() {
        for junk in [
            "",
            "hello",
            "sanctuary-world1:",
            &announcement(9, "Ada").to_uppercase(),
            &format!("{} ", announcement(9, "Ada")),
        ] {
            assert_eq!(
                NearbyWorld::from_record(&record(host(1), junk, 1)),
                None,
                "{junk:?}"
            );
        }
        let no_user_data = EndpointInfo::from_parts(host(1), EndpointData::default());
        assert_eq!(NearbyWorld::from_record(&no_user_data), None);
        let many = NearbyWorld::from_record(&record(host(1), &announcement(9, "Ada"), 100)).unwrap();
        assert_eq!(many.addrs.len(), TICKET_MAX_ADDRS);
    }

    #[test]
    fn the_list_follows_records_and_stays_bounded() {
        let mut worlds = NearbyWorlds::default();
        let ada = record(host(1), &announcement(9, "Ada"), 1);
        assert!(worlds.heard(peer_id(host(1)), Some(&ada)));
        assert!(
            !worlds.heard(peer_id(host(1)), Some(&ada)),
            "the same record changes nothing"
        );
        let renamed = record(host(1), &announcement(9, "Ada L"), 1);
        assert!(worlds.heard(peer_id(host(1)), Some(&renamed)));
        assert_eq!(worlds.len(), 1, "one world per host");
        assert_eq!(
            worlds.hosted_by(peer_id(host(1))).unwrap().host_name.as_str(),
            "Ada L"
        );
        // Junk from a listed host means it stopped announcing; expiry means it is gone.
        assert!(worlds.heard(peer_id(host(1)), Some(&record(host(1), "junk", 1))));
        assert!(worlds.is_empty());
        assert!(worlds.heard(peer_id(host(1)), Some(&ada)));
        assert!(worlds.heard(peer_id(host(1)), None));
        assert!(
            !worlds.heard(peer_id(host(1)), None),
            "forgetting twice changes nothing"
        );

        // A flood of hosts keeps the newest NEARBY_MAX.
        for n in 1..=200u8 {
            worlds.heard(
                peer_id(host(n)),
                Some(&record(host(n), &announcement(n, "Bot"), 1)),
            );
        }
        assert_eq!(worlds.len(), NEARBY_MAX);
        assert!(worlds.hosted_by(peer_id(host(200))).is_some());
        assert!(worlds.hosted_by(peer_id(host(1))).is_none());
    }
}
