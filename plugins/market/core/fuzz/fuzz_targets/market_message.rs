#![no_main]
// A panic, or a decoded message that does not survive encoding again, is a finding.
libfuzzer_sys::fuzz_target!(|data: &[u8]| assert!(sanctuary_market_core::wire::fuzz_decode(data)));
