#![no_main]
// Any panic, or a parsed ticket that does not round-trip, is a finding.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sanctuary_protocols::fuzzing::parse_ticket(data).unwrap());
