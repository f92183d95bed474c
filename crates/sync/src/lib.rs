//! Cohort's sync engine, sans IO: no sockets, no tasks, no database. Events go in, effects
//! come out, so every behaviour can be simulated deterministically with many peers.
//!
//! - [`membership`]: the signed membership log of a space and the deterministic fold that
//!   says who may read and write it; invites.
//! - [`protocol`]: versioned, length-prefixed frames and their size-checked codec.
//! - [`engine`]: per-peer, per-space sessions that authorize before disclosing, compare space
//!   summaries, and run `automerge::sync` only for documents that differ.

pub mod engine;
pub mod membership;
pub mod protocol;

mod device;
mod replay;
mod sync_state;

pub use device::{DeviceId, ParseDeviceIdError};
