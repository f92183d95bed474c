//! Membership log entries: an admission request's JSON (parse, verify, fold, write into a
//! log document and read back); (first byte 0) log documents as a peer may sync them;
//! (first byte 1) logs of validly signed entries, folded in two orders.
#![no_main]

#[path = "../../crates/sync/tests/fuzz_harness/mod.rs"]
mod fuzz_harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((0, doc)) => fuzz_harness::membership_doc(doc),
        Some((1, ops)) => fuzz_harness::signed_log(ops),
        _ => fuzz_harness::entry_json(data),
    }
});
