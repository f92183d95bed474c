//! What automerge's `receive_sync_message` does to a peer's `sync::State`, for the paths
//! that take a message without it (the engine's kept whole documents and plain
//! acknowledgements, and replayed keystrokes in `replay`). Those paths must leave the state
//! exactly as automerge would; their tests compare the whole state with automerge's.

use automerge::ChangeHash;
use automerge::sync::{self, Capability};

/// Whether two lists of heads name the same changes (in any order).
pub fn same_heads(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// What `receive_sync_message` does to `state` with a message's flags: the peer's
/// capabilities, whether it is read-only, and a reset of what we sent it.
pub(crate) fn take_flags(state: &mut sync::State, flags: Option<sync::MessageFlags>) {
    let Some(flags) = flags else {
        return;
    };
    let mut caps = vec![Capability::MessageV2];
    if flags.contains(sync::MessageFlags::SUPPORTS_SYNC_RESET) {
        caps.push(Capability::SyncReset);
    }
    state.their_capabilities = Some(caps);
    if flags.contains(sync::MessageFlags::SYNC_RESET) {
        state.sent_hashes.clear();
    }
    state.peer_read_only = flags.contains(sync::MessageFlags::READ_ONLY);
}
