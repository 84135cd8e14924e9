#![no_main]
// Any panic, or an accepted history request or answer that does not encode back to its
// bytes, is a finding.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sanctuary_protocols::fuzzing::decode_history(data).unwrap());
