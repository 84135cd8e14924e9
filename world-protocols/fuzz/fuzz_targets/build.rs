#![no_main]
// Any panic, or an accepted sync request, page or record that does not encode back to its
// bytes, is a finding.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sanctuary_protocols::fuzzing::decode_build(data).unwrap());
