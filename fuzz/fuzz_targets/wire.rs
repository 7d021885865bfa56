//! cargo-fuzz target `wire`; the body is in common.rs (shared with tests/fuzz_smoke.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::wire(data));
