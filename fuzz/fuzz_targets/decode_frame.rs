//! Frame decoding: arbitrary bytes as a stream of sync frames, and the automerge sync
//! messages inside `SyncBatch` frames.
#![no_main]

#[path = "../../crates/sync/tests/fuzz_harness/mod.rs"]
mod fuzz_harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_harness::frames(data);
    let _ = automerge::sync::Message::decode(data);
});
