#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pinpipe_fuzz::msk_event(data));
