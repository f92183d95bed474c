//! Invite tickets: arbitrary text, and arbitrary bodies behind a valid checksum (so the
//! parser behind it is reached).
#![no_main]

#[path = "../../crates/sync/tests/fuzz_harness/mod.rs"]
mod fuzz_harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((0, body)) => fuzz_harness::ticket_body(body),
        _ => fuzz_harness::ticket_text(data),
    }
});
