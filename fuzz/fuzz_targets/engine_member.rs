//! The sync engine fed arbitrary bytes (and host events) by a member of the space, after a
//! well-formed `Hello`: sessions open, and summaries and sync messages reach automerge.
#![no_main]

#[path = "../../crates/sync/tests/fuzz_harness/mod.rs"]
mod fuzz_harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = data.to_vec();
    match input.first_mut() {
        Some(flags) => *flags |= 1 | 4,
        None => input.push(1 | 4),
    }
    fuzz_harness::engine(&input);
});
