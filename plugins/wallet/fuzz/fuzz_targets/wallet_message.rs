#![no_main]
// A panic, or a decoded message that does not encode back to its bytes, is a finding.
libfuzzer_sys::fuzz_target!(|data: &[u8]| assert!(sanctuary_wallet::wire::fuzz_decode(data)));
