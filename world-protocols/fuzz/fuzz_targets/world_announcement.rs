#![no_main]
// Any panic, or a parsed announcement that does not print back the same, is a finding.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sanctuary_protocols::fuzzing::parse_world_announcement(data).unwrap());
