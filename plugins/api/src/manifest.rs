//! Who an app is and what it asks for.

use std::fmt;

/// An app's description of itself, shown in the Apps panel before the person grants
/// anything. A `const`, so that the client can read it without running the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Manifest {
    /// The app's name: its channel in the world and its folder in the data folder.
    /// Lowercase letters, digits and `-`, at most 32 bytes
    /// ([`AppName`](sanctuary_protocols::AppName)).
    pub name: &'static str,
    /// The title people see.
    pub title: &'static str,
    /// Its version, usually `env!("CARGO_PKG_VERSION")`.
    pub version: &'static str,
    /// Who made it.
    pub author: &'static str,
    /// One or two sentences on what it does.
    pub description: &'static str,
    /// What it asks to be allowed to do.
    pub permissions: &'static [Permission],
}

/// Something an app may do only when the person allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Show its panels, in the world and as overlays.
    Panels,
    /// Send messages to its copies on the other peers of the world, and receive theirs.
    Messages,
    /// Read and add the person's files through the storage app's store: add, fetch, share,
    /// serve, pin and delete blobs ([`crate::Blobs`]).
    Blobs,
    /// Ask the person to make payments, each confirmed by them in the wallet, and ask the
    /// chain whether a transaction pays them ([`crate::WalletRequests`]).
    Wallet,
    /// Act for the person on their home node (their personal server): read and add to
    /// their wall, friends, inbox and files ([`crate::HomeNode`]). Managing the node itself
    /// (pairing, devices, grants, export, import, deleting everything) is for the built-in
    /// Home app alone.
    Home,
    /// Place its own objects in these spaces (by space name).
    Spawn {
        /// The spaces.
        spaces: &'static [&'static str],
    },
}

impl Permission {
    /// The key a grant of this permission is stored under. A permission that changes
    /// (another list of spaces) gets another key, so it must be granted again.
    pub fn key(&self) -> String {
        match self {
            Self::Panels => "panels".into(),
            Self::Messages => "messages".into(),
            Self::Blobs => "blobs".into(),
            Self::Wallet => "wallet".into(),
            Self::Home => "home".into(),
            Self::Spawn { spaces } => format!("spawn:{}", spaces.join(",")),
        }
    }

    /// Whether this permission allows placing objects in `space`.
    pub fn allows_spawn_in(&self, space: &str) -> bool {
        matches!(self, Self::Spawn { spaces } if spaces.contains(&space))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Panels => f.write_str("show panels"),
            Self::Messages => f.write_str("send and receive its messages in the world"),
            Self::Blobs => f.write_str("read, add and share your stored files"),
            Self::Wallet => {
                f.write_str("ask you to confirm payments from your wallet, and check payments to you")
            }
            Self::Home => f.write_str("act for you on your home node: your wall, friends, inbox and files"),
            Self::Spawn { spaces } => write!(f, "place objects in {}", spaces.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_space_list_is_a_different_grant() {
        let market = Permission::Spawn { spaces: &["market"] };
        let more = Permission::Spawn {
            spaces: &["market", "lobby"],
        };
        assert_ne!(market.key(), more.key());
        assert!(market.allows_spawn_in("market"));
        assert!(!market.allows_spawn_in("lobby"));
        assert!(!Permission::Panels.allows_spawn_in("market"));
    }
}
