//! Taking a peer's keystroke-sized change without automerge's batch apply.
//!
//! automerge 0.12 applies every received change through one batch path that walks each
//! object the change touches from its first op to its last: a one-character insert into a
//! note with 100,000 changes of history costs it 40-80 ms. A local transaction finds its
//! place through the op set's index instead, in well under a millisecond.
//!
//! A change whose dependencies include all our heads was made on the document we hold, so
//! making the same edits (the same splices at the same places, the same map writes) in a
//! transaction under the peer's actor id, with the change's time and message, makes the
//! same change, byte for byte, which its hash proves. This module does that for the shapes
//! a person's typing produces: text inserts and deletes, scalar writes and deletes of map
//! keys. Anything else (other dependencies, an op it does not replay, more than a few
//! changes or ops) is left to `receive_sync_message`, untouched.
//!
//! Receiving the rest of such a message is cheap too: automerge's `receive_sync_message`
//! walks every ancestor of the message's heads to drop them from the changes it sent (the
//! whole history, on every message), while a message whose changes are all replayed and
//! whose heads are now ours says exactly what that walk would find: the peer has everything
//! we have. [`receive`] then updates the sync state as automerge would, without the walk
//! (checked against automerge in this module's tests).
//!
//! If the hash differs anyway (only a peer that built its change by other means than
//! automerge can cause that), the document is rebuilt as it was from its own history
//! and the change goes to `receive_sync_message` like any other. The caller stops replaying
//! for that peer, so such a peer costs at most one rebuild per connection.

use automerge::legacy::{ElementId, Key, ObjectId, OpType};
use automerge::sync::{self, Message, SyncDoc};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    AutoCommit, Change, Cursor, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, TextEncoding, Value,
};

/// Most changes in one message that are replayed (a few keystrokes typed between two
/// rounds); a message with more goes through automerge's batch apply whole.
const MAX_CHANGES: usize = 8;
/// Most ops in one replayed change (a pasted paragraph is still cheaper to replay than to
/// walk a long text for; a pasted chapter is not).
const MAX_OPS: usize = 256;
/// Most bytes of changes in one message that are considered for replay.
const MAX_BYTES: usize = 16 * 1024;

/// What [`take_in_order`] did with a message's changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Taken {
    /// Changes in the message (0 when they are not all plain change chunks).
    pub(crate) changes: usize,
    /// Changes now in the document, made by replay.
    pub(crate) replayed: usize,
    /// A change replayed to another hash than its own: the document was rebuilt as it was
    /// before it, and the peer should not be replayed for again.
    pub(crate) mismatch: bool,
}

/// Receives `msg` into `doc` as `receive_sync_message` does, replaying what it can first
/// when `replay` is on (see the module documentation). Nothing is replayed into a state
/// that takes no changes from the peer (`read_only`).
pub(crate) fn receive(
    doc: &mut AutoCommit,
    state: &mut sync::State,
    msg: Message,
    replay: bool,
) -> Result<Taken, automerge::AutomergeError> {
    let taken = if replay && !state.read_only {
        take_in_order(doc, &msg)
    } else {
        Taken::default()
    };
    if taken.changes > 0
        && taken.replayed == taken.changes
        && !msg.heads.is_empty()
        && crate::sync_state::same_heads(&msg.heads, &doc.get_heads())
    {
        receive_replayed(state, msg);
    } else {
        doc.sync().receive_sync_message(state, msg)?;
    }
    Ok(taken)
}

/// What `receive_sync_message` does to a writable `state` for `msg` once every change in it
/// is in the document and the document's heads are `msg`'s heads (non-empty): the changes
/// are skipped as known; every change we have, so every change we sent, is an ancestor of
/// (or one of) those heads, so none is still unseen; and the shared heads become theirs.
fn receive_replayed(state: &mut sync::State, msg: Message) {
    state.in_flight = false;
    crate::sync_state::take_flags(state, msg.flags);
    state.sent_hashes.clear();
    state.shared_heads.clone_from(&msg.heads);
    state.their_have = Some(msg.have);
    state.their_heads = Some(msg.heads);
    state.their_need = Some(msg.need);
}

/// Replays, in order, the changes of `msg` that extend `doc`'s heads one after another, and
/// stops at the first that does not. `receive_sync_message` afterwards skips the replayed
/// changes (it ignores changes a document has) and applies the rest.
fn take_in_order(doc: &mut AutoCommit, msg: &Message) -> Taken {
    let mut taken = Taken::default();
    let total: usize = msg.changes.iter().map(<[u8]>::len).sum();
    if msg.changes.is_empty() || total > MAX_BYTES {
        return taken;
    }
    let Some(changes) = split_changes(msg.changes.iter()) else {
        return taken;
    };
    taken.changes = changes.len();
    for change in changes {
        match replay(doc, &change) {
            Replay::Done => taken.replayed += 1,
            Replay::NotReplayable => break,
            Replay::Mismatch => {
                taken.mismatch = true;
                break;
            }
        }
    }
    taken
}

/// The changes in a message's change chunks (each chunk holds one or more change chunks
/// back to back), or `None` if any is something else (a whole document, a compressed
/// change) or there are too many.
fn split_changes<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> Option<Vec<Change>> {
    let mut out = Vec::new();
    for mut rest in chunks {
        while !rest.is_empty() {
            let len = chunk_len(rest)?;
            let (one, tail) = rest.split_at_checked(len)?;
            out.push(Change::try_from(one).ok()?);
            if out.len() > MAX_CHANGES {
                return None;
            }
            rest = tail;
        }
    }
    Some(out)
}

/// The length of the uncompressed change chunk at the start of `bytes`: 4 magic bytes, a
/// 4-byte checksum, the chunk type (1 for a change) and the data length as unsigned LEB128.
fn chunk_len(bytes: &[u8]) -> Option<usize> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    const CHANGE: u8 = 1;
    if bytes.get(..4)? != MAGIC || *bytes.get(8)? != CHANGE {
        return None;
    }
    let mut data_len: usize = 0;
    for (i, byte) in bytes.get(9..)?.iter().take(4).enumerate() {
        data_len |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return 9usize.checked_add(i + 1)?.checked_add(data_len);
        }
    }
    // More than 4 LEB128 bytes: a change far larger than any message replayed here.
    None
}

enum Replay {
    Done,
    NotReplayable,
    Mismatch,
}

/// One op of a change, as the transaction call that makes it again.
enum Edit<'a> {
    /// Insert `text` after the element (none: at the start).
    Insert(Option<&'a ElementId>, &'a str),
    /// Delete this element.
    Delete(&'a ElementId),
    Put(&'a str, &'a ScalarValue),
    DeleteKey(&'a str),
}

fn replay(doc: &mut AutoCommit, change: &Change) -> Replay {
    let heads = doc.get_heads();
    if change.is_empty()
        || change.len() > MAX_OPS
        || change.author().is_some()
        || !change.extra_bytes().is_empty()
        // Made on everything we have: every head of ours is a dependency (automerge also
        // names the author's own previous change when it is no longer a head) ...
        || !heads.iter().all(|h| change.deps().contains(h))
        // ... and we have every dependency, and no change waits for a missing one (one
        // might wait for this change, and only automerge's apply takes it in).
        || !doc.get_missing_deps(change.deps()).is_empty()
    {
        return Replay::NotReplayable;
    }
    let expanded = change.decode();
    let mut edits = Vec::with_capacity(expanded.operations.len());
    for op in &expanded.operations {
        let edit = match (&op.key, &op.action, op.insert) {
            (Key::Seq(ElementId::Head), OpType::Put(ScalarValue::Str(s)), true) => {
                Edit::Insert(None, s.as_str())
            }
            (Key::Seq(after), OpType::Put(ScalarValue::Str(s)), true) => {
                Edit::Insert(Some(after), s.as_str())
            }
            (Key::Seq(elem @ ElementId::Id(_)), OpType::Delete, false) => Edit::Delete(elem),
            (Key::Map(key), OpType::Put(value), false) => Edit::Put(key.as_str(), value),
            (Key::Map(key), OpType::Delete, false) => Edit::DeleteKey(key.as_str()),
            _ => return Replay::NotReplayable,
        };
        edits.push((&op.obj, edit));
    }

    let own = doc.get_actor().clone();
    doc.set_actor(change.actor_id().clone());
    let made = edits
        .iter()
        .all(|(obj, edit)| apply(doc, obj, edit).is_some());
    if !made {
        doc.rollback();
        doc.set_actor(own);
        return Replay::NotReplayable;
    }
    let mut options = CommitOptions::default().with_time(change.timestamp());
    if let Some(message) = change.message() {
        options = options.with_message(message.to_owned());
    }
    let hash = doc.commit_with(options);
    doc.set_actor(own.clone());
    if hash == Some(change.hash()) {
        return Replay::Done;
    }
    if hash.is_some() {
        // Our heads are in our own history, so this cannot fail; if it did, the document
        // would keep a change the peer did not make, which the next save would store.
        if let Ok(before) = doc.fork_at(&heads) {
            *doc = before.with_actor(own);
        }
    }
    Replay::Mismatch
}

/// Makes one edit in the open transaction; `None` if it does not apply (an object or an
/// element the document lacks, an op on the wrong kind of object).
fn apply(doc: &mut AutoCommit, obj: &ObjectId, edit: &Edit<'_>) -> Option<()> {
    let obj = match obj {
        ObjectId::Root => ROOT,
        ObjectId::Id(id) => doc
            .import_obj(&format!("{}@{}", id.counter(), id.actor()))
            .ok()?,
    };
    let kind = doc.object_type(&obj).ok()?;
    match (edit, kind) {
        (Edit::Insert(after, text), ObjType::Text) => {
            let at = match after {
                None => 0,
                Some(elem) => end_of(doc, &obj, elem)?,
            };
            doc.splice_text(&obj, at, 0, text).ok()
        }
        (Edit::Delete(elem), ObjType::Text) => {
            let at = position(doc, &obj, elem)?;
            // One element: as wide as its character in the document's text encoding.
            let width = width_at(doc, &obj, at)?;
            doc.splice_text(&obj, at, isize::try_from(width).ok()?, "")
                .ok()
        }
        (Edit::Put(key, value), ObjType::Map) => {
            doc.put(&obj, *key, ScalarValue::clone(value)).ok()
        }
        (Edit::DeleteKey(key), ObjType::Map) => doc.delete(&obj, *key).ok(),
        _ => None,
    }
}

/// Where element `elem` of text `obj` starts, if it is visible (a deleted element has no
/// place of its own; automerge does not key a typed insert or delete on one).
fn position(doc: &AutoCommit, obj: &ObjId, elem: &ElementId) -> Option<usize> {
    let ElementId::Id(id) = elem else {
        return None;
    };
    let cursor = Cursor::try_from(format!("{}@{}", id.counter(), id.actor()).as_str()).ok()?;
    let at = doc.get_cursor_position(obj, &cursor, None).ok()?;
    (doc.get_cursor(obj, at, None).ok()? == cursor).then_some(at)
}

/// Where the text after element `elem` of `obj` starts.
fn end_of(doc: &AutoCommit, obj: &ObjId, elem: &ElementId) -> Option<usize> {
    let at = position(doc, obj, elem)?;
    at.checked_add(width_at(doc, obj, at)?)
}

/// The width, in the document's text encoding, of the character at `at` in text `obj`.
fn width_at(doc: &AutoCommit, obj: &ObjId, at: usize) -> Option<usize> {
    let (Value::Scalar(value), _) = doc.get(obj, at).ok()?? else {
        return None;
    };
    let ScalarValue::Str(s) = value.as_ref() else {
        return None;
    };
    match doc.text_encoding() {
        TextEncoding::Utf16CodeUnit => Some(s.encode_utf16().count()),
        TextEncoding::Utf8CodeUnit => Some(s.len()),
        TextEncoding::UnicodeCodePoint => Some(s.chars().count()),
        // One element is not one unit of a grapheme cluster count.
        TextEncoding::GraphemeCluster => None,
    }
}

#[cfg(test)]
mod tests {
    use automerge::sync::{self, SyncDoc};
    use automerge::{ActorId, ExpandedChange};
    use proptest::prelude::*;

    use super::*;

    fn ok<T, E: std::fmt::Debug>(r: Result<T, E>) -> T {
        r.unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// A note as the app makes one: a title, a text body with some history.
    fn note(body: &str) -> (AutoCommit, ObjId) {
        let mut doc = AutoCommit::new().with_actor(ActorId::from(b"alice".as_slice()));
        ok(doc.put(ROOT, "title", "Week 1"));
        let text = ok(doc.put_object(ROOT, "body", ObjType::Text));
        let _ = doc.commit();
        for (i, c) in body.chars().enumerate() {
            ok(doc.splice_text(&text, i, 0, &c.to_string()));
            let _ = doc.commit();
        }
        (doc, text)
    }

    /// Two copies of `doc` held by another device: one takes messages with replay first,
    /// the other as automerge alone does.
    struct Peer {
        replayed: AutoCommit,
        plain: AutoCommit,
        state_replayed: sync::State,
        state_plain: sync::State,
    }

    impl Peer {
        fn of(doc: &AutoCommit) -> Self {
            let bytes = doc.clone().save();
            let bob = ActorId::from(b"bob".as_slice());
            Peer {
                replayed: ok(AutoCommit::load(&bytes)).with_actor(bob.clone()),
                plain: ok(AutoCommit::load(&bytes)).with_actor(bob),
                state_replayed: sync::State::new(),
                state_plain: sync::State::new(),
            }
        }

        /// Takes `msg` both ways; returns what replay did. Both copies must end equal, byte
        /// for byte when saved.
        fn take(&mut self, msg: &sync::Message) -> Taken {
            let msg = ok(sync::Message::decode(&msg.clone().encode()));
            let before = self.replayed.get_heads();
            let mut probe = self.replayed.clone();
            let taken = ok(receive(
                &mut self.replayed,
                &mut self.state_replayed,
                msg.clone(),
                true,
            ));
            if taken.mismatch {
                let _ = take_in_order(&mut probe, &msg);
                assert_eq!(probe.get_heads(), before, "rebuilt as it was");
            }
            ok(self
                .plain
                .sync()
                .receive_sync_message(&mut self.state_plain, msg));
            assert_eq!(self.replayed.get_heads(), self.plain.get_heads());
            assert_eq!(self.replayed.save(), self.plain.save());
            assert_eq!(self.state_replayed, self.state_plain);
            taken
        }
    }

    /// Alice's note with `body`, Bob's two copies of it, and Alice's sync state with Bob
    /// once they have synced.
    fn synced(body: &str) -> (AutoCommit, ObjId, Peer, sync::State) {
        let (mut alice, text) = note(body);
        let mut bob = Peer::of(&alice);
        let state = in_sync(&mut alice, &mut bob);
        (alice, text, bob, state)
    }

    /// Alice's sync state with `bob` once they have synced (they hold the same document).
    fn in_sync(alice: &mut AutoCommit, bob: &mut Peer) -> sync::State {
        let mut state = sync::State::new();
        for _ in 0..10 {
            let to_bob = alice.sync().generate_sync_message(&mut state);
            let to_alice = bob
                .replayed
                .sync()
                .generate_sync_message(&mut bob.state_replayed);
            if to_bob.is_none() && to_alice.is_none() {
                break;
            }
            if let Some(m) = to_bob {
                ok(bob
                    .replayed
                    .sync()
                    .receive_sync_message(&mut bob.state_replayed, m));
            }
            if let Some(m) = to_alice {
                ok(alice.sync().receive_sync_message(&mut state, m));
            }
        }
        bob.state_plain = bob.state_replayed.clone();
        state
    }

    /// Runs sync rounds between Alice and Bob until neither has anything more to say (Bob
    /// asks again for a change his bloom filter wrongly claimed he had), adding up what
    /// replay did with each message Bob took.
    fn deliver(alice: &mut AutoCommit, state: &mut sync::State, bob: &mut Peer) -> Taken {
        deliver_counting_waits(alice, state, bob).0
    }

    /// [`deliver`], and whether Bob had to hold a change back for a missing dependency at
    /// some point (which only automerge's apply takes in).
    fn deliver_counting_waits(
        alice: &mut AutoCommit,
        state: &mut sync::State,
        bob: &mut Peer,
    ) -> (Taken, bool) {
        let mut total = Taken::default();
        let mut waited = false;
        for _ in 0..10 {
            let to_bob = alice.sync().generate_sync_message(state);
            if let Some(msg) = &to_bob {
                let taken = bob.take(msg);
                waited |= !bob.replayed.get_missing_deps(&[]).is_empty();
                total.changes += taken.changes;
                total.replayed += taken.replayed;
                total.mismatch |= taken.mismatch;
            }
            let to_alice = bob
                .replayed
                .sync()
                .generate_sync_message(&mut bob.state_replayed);
            let twin = bob.plain.sync().generate_sync_message(&mut bob.state_plain);
            assert_eq!(to_alice, twin, "both copies of Bob say the same");
            assert_eq!(bob.state_replayed, bob.state_plain);
            let quiet = to_bob.is_none() && to_alice.is_none();
            if let Some(reply) = to_alice {
                ok(alice.sync().receive_sync_message(state, reply));
            }
            if quiet {
                return (total, waited);
            }
        }
        panic!("sync did not settle in 10 rounds")
    }

    /// Every kind of typing, one change each: each is replayed, and the result is what
    /// automerge's own apply makes of it.
    #[test]
    fn typing_is_replayed_to_the_same_bytes() {
        let (mut alice, text, mut bob, mut state) = synced("Read chapter one before Monday.");
        type Edit = fn(&mut AutoCommit, &ObjId);
        let edits: Vec<(&str, Edit)> = vec![
            (
                "insert at the start",
                |d, t| ok(d.splice_text(t, 0, 0, "N")),
            ),
            ("insert in the middle", |d, t| {
                ok(d.splice_text(t, 5, 0, "x"))
            }),
            ("insert at the end", |d, t| {
                let end = d.length(t);
                ok(d.splice_text(t, end, 0, "!"))
            }),
            ("backspace", |d, t| ok(d.splice_text(t, 6, -1, ""))),
            ("delete a word", |d, t| ok(d.splice_text(t, 4, 8, ""))),
            ("replace a selection", |d, t| {
                ok(d.splice_text(t, 2, 3, "abc"))
            }),
            ("paste a line", |d, t| {
                ok(d.splice_text(t, 3, 0, "pasted text\n"))
            }),
            ("an emoji (two UTF-16 units)", |d, t| {
                ok(d.splice_text(t, 1, 0, "😀"))
            }),
            ("after the emoji", |d, t| ok(d.splice_text(t, 3, 0, "é"))),
            ("delete the emoji", |d, t| ok(d.splice_text(t, 1, 2, ""))),
            ("type where text was deleted", |d, t| {
                ok(d.splice_text(t, 4, 0, "q"))
            }),
            ("rename and type", |d, t| {
                ok(d.put(ROOT, "title", "Week 2"));
                ok(d.splice_text(t, 0, 0, "W"));
            }),
            ("set a number", |d, _| {
                ok(d.put(ROOT, "updated_at", 1_700_000_000_i64))
            }),
            ("remove a key", |d, _| ok(d.delete(ROOT, "updated_at"))),
        ];
        for (what, edit) in edits {
            edit(&mut alice, &text);
            let _ = alice.commit_with(CommitOptions::default().with_message(what.to_owned()));
            let taken = deliver(&mut alice, &mut state, &mut bob);
            assert_eq!(
                taken,
                Taken {
                    changes: 1,
                    replayed: 1,
                    mismatch: false
                },
                "{what}"
            );
        }
        assert_eq!(ok(bob.replayed.text(&text)), ok(alice.text(&text)));
    }

    /// Several keystrokes in one message are replayed one after another.
    #[test]
    fn keystrokes_in_one_message_are_replayed_in_order() {
        let (mut alice, text, mut bob, mut state) = synced("notes");
        for (i, c) in "abc".chars().enumerate() {
            ok(alice.splice_text(&text, 5 + i, 0, &c.to_string()));
            let _ = alice.commit();
        }
        let taken = deliver(&mut alice, &mut state, &mut bob);
        assert_eq!(taken.replayed, 3);
        assert_eq!(ok(bob.replayed.text(&text)), "notesabc");
    }

    /// A change made concurrently with one of ours does not extend our heads: automerge
    /// applies it.
    #[test]
    fn a_concurrent_change_is_left_to_automerge() {
        let (mut alice, text, mut bob, mut state) = synced("shared");
        for doc in [&mut bob.replayed, &mut bob.plain] {
            ok(doc.splice_text(&text, 0, 0, "B"));
            let _ = doc.commit_with(CommitOptions::default().with_time(7));
        }
        ok(alice.splice_text(&text, 6, 0, "A"));
        let _ = alice.commit();
        let taken = deliver(&mut alice, &mut state, &mut bob);
        assert_eq!((taken.replayed, taken.mismatch), (0, false));
        assert_eq!(ok(bob.replayed.text(&text)), "BsharedA");
    }

    /// Ops that are not typing (a new object, a counter) are left to automerge.
    #[test]
    fn other_ops_are_left_to_automerge() {
        let (mut alice, _, mut bob, mut state) = synced("x");
        let list = ok(alice.put_object(ROOT, "items", ObjType::List));
        ok(alice.insert(&list, 0, "one"));
        let _ = alice.commit();
        let taken = deliver(&mut alice, &mut state, &mut bob);
        assert_eq!((taken.replayed, taken.mismatch), (0, false));
    }

    /// A change that says it is typing but does not replay to its own hash (here: its ops
    /// numbered from another start than the document's next op) leaves the document as it
    /// was, says so, and is then applied by automerge like any other.
    #[test]
    fn a_change_that_replays_to_another_hash_is_undone() {
        let (mut alice, text, mut bob, mut state) = synced("history");
        ok(alice.splice_text(&text, 0, 0, "!"));
        let _ = alice.commit();
        let Some(mut msg) = alice.sync().generate_sync_message(&mut state) else {
            panic!("Alice has a change to announce");
        };
        let honest = alice.get_last_local_change();
        let honest = honest.unwrap_or_else(|| panic!("Alice's change"));
        let mut forged: ExpandedChange = honest.decode();
        forged.start_op = forged.start_op.saturating_add(10);
        forged.hash = None;
        let forged = Change::from(forged);
        msg.heads = vec![forged.hash()];
        msg.changes = vec![forged.raw_bytes().to_vec()].into();
        let taken = bob.take(&msg);
        assert!(taken.mismatch, "{taken:?}");
        assert_eq!(taken.replayed, 0);
        assert!(bob.replayed.get_heads().contains(&forged.hash()));
    }

    /// Bytes that are not change chunks are not replayed (automerge then refuses or applies
    /// them as it would).
    #[test]
    fn chunks_that_are_not_changes_are_not_split() {
        assert!(split_changes([b"garbage".as_slice()].into_iter()).is_none());
        let (doc, _) = note("abc");
        let saved = doc.clone().save();
        assert!(split_changes([saved.as_slice()].into_iter()).is_none());
        let mut doc = doc;
        let change = doc.get_last_local_change().map(|c| c.raw_bytes().to_vec());
        let change = change.unwrap_or_else(|| panic!("a change"));
        let twice = [change.clone(), change.clone()].concat();
        assert_eq!(
            split_changes([twice.as_slice()].into_iter()).map(|c| c.len()),
            Some(2)
        );
        assert!(split_changes([&twice[..twice.len() - 1]].into_iter()).is_none());
    }

    #[derive(Debug, Clone)]
    enum Typing {
        Insert(usize, String),
        Delete(usize, usize),
        Title(String),
        /// Bob types too, at the same time: his changes are concurrent with Alice's.
        Bob(usize, String),
    }

    fn typing() -> impl Strategy<Value = Typing> {
        prop_oneof![
            4 => (any::<usize>(), "[a-z é😀\n]{1,3}").prop_map(|(at, s)| Typing::Insert(at, s)),
            2 => (any::<usize>(), 1usize..4).prop_map(|(at, n)| Typing::Delete(at, n)),
            1 => "[A-Z][a-z]{0,5}".prop_map(Typing::Title),
            1 => (any::<usize>(), "[a-z😀]{1,2}").prop_map(|(at, s)| Typing::Bob(at, s)),
        ]
    }

    /// Snaps `at` to a character boundary of `text` (UTF-16 offsets).
    fn boundary(text: &str, at: usize) -> usize {
        let mut offsets = vec![0];
        let mut o = 0;
        for c in text.chars() {
            o += c.len_utf16();
            offsets.push(o);
        }
        offsets[at % offsets.len()]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any run of typing, one to three changes per message, with the peer sometimes
        /// typing at the same time, ends in the same document, byte for byte, and the same
        /// sync state as automerge's own receive; and every keystroke is replayed unless the
        /// peer typed concurrently or had to hold one back for a missing dependency (its
        /// bloom filter claimed a change it lacked, and it asked again).
        #[test]
        fn replay_matches_automerge(rounds in prop::collection::vec(prop::collection::vec(typing(), 1..4), 1..12)) {
            let (mut alice, text, mut bob, mut state) = synced("The cohort meets on Tuesdays.");
            let mut time = 1_700_000_000_000_i64;
            for round in rounds {
                let mut changes = 0;
                let mut concurrent = false;
                for t in round {
                    let current = ok(alice.text(&text));
                    match t {
                        Typing::Insert(at, s) => ok(alice.splice_text(&text, boundary(&current, at), 0, &s)),
                        Typing::Delete(at, n) => {
                            let from = boundary(&current, at);
                            let rest = &current[current.char_indices().map(|(i, _)| i).find(|i| current[..*i].encode_utf16().count() >= from).unwrap_or(current.len())..];
                            let del: usize = rest.chars().take(n).map(char::len_utf16).sum();
                            ok(alice.splice_text(&text, from, isize::try_from(del).unwrap_or(0), ""));
                        }
                        Typing::Title(s) => ok(alice.put(ROOT, "title", s)),
                        Typing::Bob(at, s) => {
                            // The same edit, at the same time, in both of Bob's copies.
                            let at = boundary(&ok(bob.replayed.text(&text)), at);
                            time += 1;
                            for doc in [&mut bob.replayed, &mut bob.plain] {
                                ok(doc.splice_text(&text, at, 0, &s));
                                let _ = doc.commit_with(CommitOptions::default().with_time(time));
                            }
                            concurrent = true;
                            continue;
                        }
                    }
                    time += 1;
                    // A delete at the end of the text deletes nothing and makes no change.
                    changes += usize::from(alice.commit_with(CommitOptions::default().with_time(time)).is_some());
                }
                let (taken, waited) = deliver_counting_waits(&mut alice, &mut state, &mut bob);
                prop_assert!(!taken.mismatch);
                prop_assert!(taken.replayed == changes || waited || concurrent, "{taken:?} of {changes}");
            }
            // Bob's own typing reaches Alice too.
            deliver(&mut alice, &mut state, &mut bob);
            prop_assert_eq!(ok(bob.replayed.text(&text)), ok(alice.text(&text)));
        }
    }
}
