//! Talking to a home node: a [`HomeConnection`] carries one request and its response per
//! QUIC stream, as the owner's device, an app or another node (the connection's key says
//! which).

use std::time::Duration;

use iroh::endpoint::Connection;
use iroh::{Endpoint, EndpointAddr, EndpointId, RelayUrl, TransportAddr};
use sanctuary_protocols::alpn::ALPN_HOME;
use sanctuary_protocols::home::request::RESPONSE_MAX;
use sanctuary_protocols::home::{HomeAddress, Request, Response};
use sanctuary_protocols::world::TICKET_MAX_ADDRS;

use super::HomeError;
use crate::node::peer_id;

/// How long connecting to a home node may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request may take to be answered (uploads and exports included).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// How to dial the node `address` names.
pub fn endpoint_addr(address: &HomeAddress) -> Option<EndpointAddr> {
    let id = EndpointId::from_bytes(address.node.as_bytes()).ok()?;
    let mut addrs: Vec<TransportAddr> = address.addrs.iter().copied().map(TransportAddr::Ip).collect();
    if let Some(relay) = address
        .relay
        .as_deref()
        .and_then(|url| url.parse::<RelayUrl>().ok())
    {
        addrs.push(TransportAddr::Relay(relay));
    }
    Some(EndpointAddr::from_parts(id, addrs))
}

/// The home address of the node at `addr`.
pub fn home_address(addr: &EndpointAddr) -> HomeAddress {
    HomeAddress::new(
        peer_id(addr.id),
        addr.relay_urls().next().map(|url| url.to_string()),
        addr.ip_addrs().copied().take(TICKET_MAX_ADDRS),
    )
}

/// An open connection to a home node.
#[derive(Debug, Clone)]
pub struct HomeConnection {
    connection: Connection,
    node: HomeAddress,
}

impl HomeConnection {
    /// Dials the node at `address` from `endpoint` (whose key is who we are to it).
    pub async fn connect(endpoint: &Endpoint, address: &HomeAddress) -> Result<Self, HomeError> {
        let unreachable = |reason: String| HomeError::Unreachable {
            node: address.node.to_string(),
            reason,
        };
        let addr = endpoint_addr(address).ok_or_else(|| unreachable("not a valid key".into()))?;
        let connection = tokio::time::timeout(CONNECT_TIMEOUT, endpoint.connect(addr, ALPN_HOME))
            .await
            .map_err(|_| unreachable("timed out".into()))?
            .map_err(|err| unreachable(err.to_string()))?;
        Ok(Self {
            connection,
            node: address.clone(),
        })
    }

    /// Sends one request and waits for its response.
    pub async fn ask(&self, request: &Request) -> Result<Response, HomeError> {
        let unreachable = |reason: String| HomeError::Unreachable {
            node: self.node.node.to_string(),
            reason,
        };
        let exchange = async {
            let (mut send, mut recv) = self
                .connection
                .open_bi()
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            send.write_all(&request.encode())
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            send.finish().map_err(|e| unreachable(e.to_string()))?;
            recv.read_to_end(RESPONSE_MAX)
                .await
                .map_err(|e| unreachable(e.to_string()))
        };
        let bytes = tokio::time::timeout(ANSWER_TIMEOUT, exchange)
            .await
            .map_err(|_| unreachable("no answer in time".into()))??;
        Ok(Response::decode(&bytes)?)
    }

    /// Like [`ask`](Self::ask), with a refusal as an error.
    pub async fn ask_ok(&self, request: &Request) -> Result<Response, HomeError> {
        match self.ask(request).await? {
            Response::Refused { reason, detail } => Err(HomeError::Refused { reason, detail }),
            response => Ok(response),
        }
    }

    /// Closes the connection.
    pub fn close(&self) {
        self.connection.close(0u32.into(), b"done");
    }
}

impl crate::Node {
    /// Opens a connection to the home node at `address`, as this node's key (a device, an
    /// app or another home node).
    pub async fn connect_home(&self, address: &HomeAddress) -> Result<HomeConnection, HomeError> {
        HomeConnection::connect(&self.endpoint, address).await
    }

    /// The home attached to this node, if any ([`NodeConfig::home`](crate::NodeConfig::home)).
    pub fn home(&self) -> Option<&super::Home> {
        self.home.as_ref()
    }
}
