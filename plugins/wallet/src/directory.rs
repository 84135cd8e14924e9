//! Who can be paid by name: the payment address each person's own wallet published.
//!
//! An address is taken only from a message its owner signed (the world checks every app
//! message's author), so nobody can slip their address in under someone else's name.
//! The directory holds only people who are in the world now, and at most [`MAX_PEOPLE`].

use std::collections::HashMap;
use std::time::Duration;

use bevy::prelude::*;
use sanctuary_plugin_api::prelude::*;
use sanctuary_plugin_api::{PeerId, Person};
use sanctuary_wallet_core::Address;

use crate::WalletApp;
use crate::panel::WalletState;
use crate::wire::WalletMessage;

/// The most people whose addresses are kept.
pub const MAX_PEOPLE: usize = 256;

/// How often the person's own address is announced again (others arrive, gossip drops).
const ANNOUNCE_EVERY: Duration = Duration::from_secs(15);

/// Published payment addresses, by person.
#[derive(Resource, Debug, Default)]
pub struct Directory {
    addresses: HashMap<PeerId, (Address, u64)>,
}

impl Directory {
    /// The address `peer` published for `chain_id`.
    pub fn address_of(&self, peer: &PeerId, chain_id: u64) -> Option<Address> {
        self.addresses
            .get(peer)
            .filter(|(_, chain)| *chain == chain_id)
            .map(|(address, _)| *address)
    }

    /// The person called `name` (ignoring case) who published an address for `chain_id`.
    /// Two people of that name is an error: paying the wrong one cannot be undone.
    pub fn find(&self, people: &[Person], name: &str, chain_id: u64) -> Result<(Person, Address), String> {
        let name = name.trim();
        let matching: Vec<&Person> = people
            .iter()
            .filter(|person| person.name.eq_ignore_ascii_case(name))
            .collect();
        match matching.as_slice() {
            [] => Err(format!(
                "nobody called \"{name}\" is here (or type an address: 0x…)"
            )),
            [person] => self
                .address_of(&person.id, chain_id)
                .map(|address| ((*person).clone(), address))
                .ok_or_else(|| format!("{} has not published an address for this chain yet", person.name)),
            _ => Err(format!(
                "{} people here are called \"{name}\": pay them by address",
                matching.len()
            )),
        }
    }

    /// Takes in an address a person published.
    pub fn learn(&mut self, from: PeerId, message: WalletMessage) {
        let WalletMessage::Address { address, chain_id } = message;
        if self.addresses.len() >= MAX_PEOPLE && !self.addresses.contains_key(&from) {
            return;
        }
        self.addresses.insert(from, (Address::from(address), chain_id));
    }

    /// Forgets people who are no longer in the world.
    pub fn keep_only(&mut self, people: &[Person]) {
        self.addresses
            .retain(|peer, _| people.iter().any(|person| person.id == *peer));
    }
}

/// Reads other wallets' announcements.
pub fn receive(mut messages: AppMessages<WalletApp>, mut directory: ResMut<Directory>, view: Res<WorldView>) {
    for message in messages.read() {
        match WalletMessage::decode(&message.bytes) {
            Ok(decoded) => directory.learn(message.from, decoded),
            Err(error) => debug!("wallet: from {}: {error}", message.from),
        }
    }
    if view.is_changed() {
        directory.keep_only(&view.people);
    }
}

/// Announces the person's first address: on arrival in a world, when someone new arrives,
/// and every [`ANNOUNCE_EVERY`].
pub fn announce(
    mut messages: AppMessages<WalletApp>,
    state: Res<WalletState>,
    view: Res<WorldView>,
    time: Res<Time<Real>>,
    mut last: Local<Option<(Duration, usize, Address, u64)>>,
) {
    let (Some(network), Some(account)) = (&state.snapshot.network, state.snapshot.accounts.first()) else {
        return;
    };
    if !view.online || !messages.allowed() {
        return;
    }
    let now = time.elapsed();
    let due = match *last {
        None => true,
        Some((at, people, address, chain)) => {
            now.saturating_sub(at) >= ANNOUNCE_EVERY
                || view.people.len() > people
                || address != account.address
                || chain != network.chain_id
        }
    };
    if !due {
        return;
    }
    let message = WalletMessage::Address {
        address: account.address.into_array(),
        chain_id: network.chain_id,
    };
    if messages.send(message.encode()).is_ok() {
        *last = Some((now, view.people.len(), account.address, network.chain_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(byte: u8, name: &str) -> Person {
        Person {
            id: PeerId::from_bytes([byte; 32]),
            name: name.into(),
            space: "lobby".into(),
        }
    }

    #[test]
    fn names_resolve_only_to_addresses_their_owners_published() {
        let people = vec![person(1, "Ada"), person(2, "Grace"), person(3, "grace")];
        let mut directory = Directory::default();
        directory.learn(
            people[0].id,
            WalletMessage::Address {
                address: [0xaa; 20],
                chain_id: 31337,
            },
        );
        let (found, address) = directory.find(&people, "ada", 31337).unwrap();
        assert_eq!(
            (found.name.as_str(), address),
            ("Ada", Address::repeat_byte(0xaa))
        );
        assert!(
            directory
                .find(&people, "Ada", 1)
                .unwrap_err()
                .contains("not published")
        );
        assert!(
            directory
                .find(&people, "Grace", 31337)
                .unwrap_err()
                .contains("2 people")
        );
        assert!(
            directory
                .find(&people, "Linus", 31337)
                .unwrap_err()
                .contains("nobody")
        );

        directory.keep_only(&people[1..]);
        assert!(
            directory.address_of(&people[0].id, 31337).is_none(),
            "forgotten once gone"
        );
    }

    #[test]
    fn the_directory_is_bounded() {
        let mut directory = Directory::default();
        for index in 0..(MAX_PEOPLE + 10) {
            let mut id = [0u8; 32];
            id[..8].copy_from_slice(&(index as u64).to_le_bytes());
            directory.learn(
                PeerId::from_bytes(id),
                WalletMessage::Address {
                    address: [1; 20],
                    chain_id: 1,
                },
            );
        }
        assert_eq!(directory.addresses.len(), MAX_PEOPLE);
    }
}
