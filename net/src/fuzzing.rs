//! Entry points for the fuzz targets in `world-protocols/fuzz/` that cover this crate's
//! decoders of untrusted bytes, also run by the property tests on random input.
//!
//! Refusing input is fine; a panic, or an accepted input that breaks an invariant (returned
//! as an [`InvariantViolation`]), is a finding.

use crate::ticket::WorldTicket;

/// A decoder accepted input but broke one of its promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvariantViolation {
    /// A parsed ticket does not print and parse back to itself.
    #[error("parsed ticket does not round-trip")]
    TicketRoundTrip,
}

/// Parses the input as ticket text; one that parses must print as text that parses back
/// to the same ticket.
pub fn parse_ticket(data: &[u8]) -> Result<(), InvariantViolation> {
    let Some(ticket) = std::str::from_utf8(data)
        .ok()
        .and_then(|text| text.parse::<WorldTicket>().ok())
    else {
        return Ok(());
    };
    match ticket.to_string().parse::<WorldTicket>() {
        Ok(again) if again == ticket => Ok(()),
        _ => Err(InvariantViolation::TicketRoundTrip),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn random_bytes_never_break_ticket_parsing(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert_eq!(parse_ticket(&data), Ok(()));
        }

        #[test]
        fn random_base32_after_the_prefix_never_breaks_parsing(body in "[a-z2-7]{0,400}") {
            let text = format!("{}{body}", crate::ticket::TICKET_PREFIX);
            prop_assert_eq!(parse_ticket(text.as_bytes()), Ok(()));
        }
    }
}
