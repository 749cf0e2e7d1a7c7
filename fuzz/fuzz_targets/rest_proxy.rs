#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pinpipe_fuzz::rest_proxy(data));
