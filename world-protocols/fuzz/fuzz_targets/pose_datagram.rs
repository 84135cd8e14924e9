#![no_main]
// Any panic, or an accepted input that breaks an invariant, is a finding.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sanctuary_protocols::fuzzing::decode_pose_datagram(data).unwrap());
