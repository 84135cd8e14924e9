//! Amounts as people type and read them ("1.5") and as the chain counts them (wei).

use alloy::primitives::U256;
use alloy::primitives::utils::{format_units, parse_units};

use crate::WalletError;

/// Reads a decimal amount with at most `decimals` places: "1", "0.25", "1.5".
pub fn parse_amount(text: &str, decimals: u8) -> Result<U256, WalletError> {
    let text = text.trim();
    let well_formed = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_digit() || c == '.')
        && text.matches('.').count() <= 1
        && text != ".";
    if !well_formed {
        return Err(WalletError::BadAmount(format!(
            "\"{text}\" is not an amount like 1.5"
        )));
    }
    if text
        .split('.')
        .nth(1)
        .is_some_and(|places| places.len() > usize::from(decimals))
    {
        return Err(WalletError::BadAmount(format!(
            "\"{text}\" has more than {decimals} decimal places"
        )));
    }
    let units = parse_units(text, decimals)
        .map_err(|error| WalletError::BadAmount(format!("\"{text}\": {error}")))?;
    Ok(units.into())
}

/// Writes an amount in whole units, without trailing zeros: 1500000000000000000 wei → "1.5".
pub fn format_amount(value: U256, decimals: u8) -> String {
    let text = format_units(value, decimals).unwrap_or_else(|_| value.to_string());
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_round_trip_and_odd_ones_are_refused() {
        let wei = parse_amount("1.5", 18).unwrap();
        assert_eq!(wei, U256::from(1_500_000_000_000_000_000u128));
        assert_eq!(format_amount(wei, 18), "1.5");
        assert_eq!(format_amount(U256::from(3u8), 0), "3");
        assert_eq!(format_amount(parse_amount("2", 6).unwrap(), 6), "2");
        assert_eq!(parse_amount(".5", 2).unwrap(), U256::from(50u8));
        for bad in ["", "-1", "1,5", "1.2.3", "abc", ".", "1e18"] {
            assert!(
                matches!(parse_amount(bad, 18), Err(WalletError::BadAmount(_))),
                "{bad}"
            );
        }
        assert!(
            matches!(parse_amount("0.001", 2), Err(WalletError::BadAmount(m)) if m.contains("2 decimal"))
        );
    }
}
