//! cargo-fuzz target `http`; the body is in services.rs (shared with tests/fuzz_smoke.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

mod services;

fuzz_target!(|data: &[u8]| services::http(data));
