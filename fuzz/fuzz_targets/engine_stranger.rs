//! The sync engine fed arbitrary bytes (and host events) by a device that is not a member:
//! it must answer only `Refused` and never send a document id.
#![no_main]

#[path = "../../crates/sync/tests/fuzz_harness/mod.rs"]
mod fuzz_harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = data.to_vec();
    if let Some(flags) = input.first_mut() {
        *flags &= !1;
    }
    fuzz_harness::engine(&input);
});
