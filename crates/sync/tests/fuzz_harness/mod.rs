//! Entry points fed with hostile bytes, shared by the cargo-fuzz targets (`fuzz/` at the
//! repository root, which include this file by path) and by the property tests in
//! `hostile_input.rs` (which run the same code on stable in every test run).
//!
//! Every function takes arbitrary bytes, must never panic, and checks what must hold
//! whatever the input (panicking when it does not): decoding either fails with an error or
//! yields something that encodes back the same way; an engine talking to a stranger sends
//! it nothing but refusals and never a document id; an engine's own output is always
//! well-formed frames.
#![allow(dead_code)] // each user calls a different part

use std::collections::{BTreeMap, BTreeSet};

use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ROOT};
use cohort_model::{DocId, Entry, ItemId, Membership, PersonId, Role, SpaceId, Timestamp};
use cohort_sync::DeviceId;
use cohort_sync::engine::{Authorizer, Config, ConnId, DocStore, Effect, Engine, Event, Millis};
use cohort_sync::membership::{
    Action, DeviceKey, MembershipState, TICKET_PREFIX, Ticket, signing_bytes, space_id_for,
    verify_entry,
};
use cohort_sync::protocol::{self, Frame, FrameError, MAX_FRAME};

// ---------------------------------------------------------------------- frame codec ---

/// Decodes `data` as a stream of frames, as a receiver would. A frame that decodes must
/// encode back to exactly the bytes it came from (the codec is canonical: minimal varints,
/// no trailing bytes), and every sync message in a `SyncBatch` goes through automerge's
/// decoder as the engine would.
pub fn frames(data: &[u8]) {
    let mut rest = data;
    loop {
        match protocol::decode_frame(rest) {
            Ok((frame, used)) => {
                assert!(
                    used > 0 && used <= rest.len(),
                    "used {used} of {}",
                    rest.len()
                );
                let again = protocol::encode_frame(&frame);
                assert_eq!(
                    again,
                    rest[..used],
                    "{frame:?} does not encode back to the bytes it was decoded from"
                );
                if let Frame::SyncBatch { messages, .. } = &frame {
                    for (_, message) in messages {
                        let _ = automerge::sync::Message::decode(message);
                    }
                }
                rest = &rest[used..];
            }
            Err(FrameError::Incomplete { needed }) => {
                assert!(needed >= 1, "an incomplete frame needs at least a byte");
                // Whatever is announced fits the limit (it was checked first).
                if rest.len() >= protocol::LEN_BYTES {
                    assert!(rest.len() + needed <= MAX_FRAME + protocol::LEN_BYTES);
                }
                return;
            }
            Err(_) => return,
        }
    }
}

// -------------------------------------------------------------------------- engine ---

/// The space the engine's host holds.
pub fn space() -> SpaceId {
    SpaceId::from_bytes([0x5a; 16])
}

/// Another space the host holds, that the member is not in.
pub fn other_space() -> SpaceId {
    SpaceId::from_bytes([0x6b; 16])
}

/// Document ids of the host (two in each space).
pub fn doc_ids() -> [DocId; 4] {
    [
        DocId::from_bytes([0xd1; 16]),
        DocId::from_bytes([0xd2; 16]),
        DocId::from_bytes([0xd3; 16]),
        DocId::from_bytes([0xd4; 16]),
    ]
}

const ME: DeviceId = DeviceId([0x40; 32]);
/// A member of `space()` only; it sorts after `ME`, so `ME` is the side that opens
/// sessions when it dialed... whoever dialed, the roles are the harness's choice.
const MEMBER: DeviceId = DeviceId([0x41; 32]);
const STRANGER: DeviceId = DeviceId([0x42; 32]);

/// Documents in memory, scoped by space.
pub struct Store {
    docs: BTreeMap<DocId, (SpaceId, AutoCommit)>,
}

impl Store {
    fn new() -> Store {
        let mut docs = BTreeMap::new();
        let ids = doc_ids();
        for (i, id) in ids.iter().enumerate() {
            let space = if i < 2 { space() } else { other_space() };
            let mut doc = AutoCommit::new().with_actor(automerge::ActorId::from(&ME.0[..16]));
            // Cannot fail on a fresh document; ignore rather than panic in a harness.
            let _ = doc.put(ROOT, "title", format!("document {i}"));
            docs.insert(*id, (space, doc));
        }
        Store { docs }
    }

    fn edit(&mut self, doc: DocId, n: u8) {
        if let Some((_, d)) = self.docs.get_mut(&doc) {
            let _ = d.put(ROOT, "edit", i64::from(n));
        }
    }
}

impl DocStore for Store {
    fn space_heads(&mut self, space: SpaceId) -> Vec<(DocId, Vec<ChangeHash>)> {
        self.docs
            .iter_mut()
            .filter(|(_, (s, _))| *s == space)
            .map(|(id, (_, d))| (*id, d.get_heads()))
            .collect()
    }

    fn doc_mut(&mut self, space: SpaceId, doc: DocId) -> Option<&mut AutoCommit> {
        self.docs
            .get_mut(&doc)
            .filter(|(s, _)| *s == space)
            .map(|(_, d)| d)
    }

    fn create_doc(&mut self, space: SpaceId, doc: DocId) -> Option<&mut AutoCommit> {
        // A host holds at most a few hundred documents from one peer in a harness run.
        if !self.docs.contains_key(&doc) && self.docs.len() < 256 {
            self.docs.insert(doc, (space, AutoCommit::new()));
        }
        self.doc_mut(space, doc)
    }
}

/// The host's membership: `MEMBER` may read and write `space()`; nobody else anything.
struct Auth {
    revoked: bool,
}

impl Authorizer for Auth {
    fn may_read(&self, space: SpaceId, device: DeviceId) -> bool {
        (space == self::space() && device == MEMBER && !self.revoked)
            || ((space == self::space() || space == other_space()) && device == ME)
    }

    fn shared_spaces(&self, device: DeviceId) -> Vec<SpaceId> {
        [space(), other_space()]
            .into_iter()
            .filter(|s| self.may_read(*s, device))
            .collect()
    }
}

/// What a peer was sent, frame by frame, with the raw bytes.
#[derive(Default)]
pub struct Sent {
    pub bytes: Vec<u8>,
    pub frames: Vec<Frame>,
}

/// Feeds `data` to an engine as what one peer sends, interleaved with the host's own
/// happenings. The first byte chooses who the peer is (bit 0: the member, else a
/// stranger), whether the engine dialed (bit 1), whether the peer's bytes begin with a
/// well-formed `Hello` for the space (bit 2), and whether they go on with a real
/// `automerge::sync` message (bit 3: for a document of the space, of the other space, or a
/// new one; from a fork of the host's document or an unrelated one; a byte of it possibly
/// flipped, all chosen by the next bytes). Then, repeatedly, one control byte: below
/// 0xf0 it is the length of the next chunk of received bytes; 0xf0 lets 10 s pass and
/// ticks; 0xf1 reports everything sent as written; 0xf2 edits a document locally; 0xf3
/// says membership changed; 0xf4 revokes the member; 0xf5 reconnects; above, a chunk of
/// 1 KiB times (byte - 0xf5).
///
/// Checks: nothing panics; everything the engine sends is whole, well-formed frames; a
/// stranger is told nothing but `Refused`, never a document id, and nothing of its is
/// persisted; no document moves to another space.
pub fn engine(data: &[u8]) -> Sent {
    let Some((&flags, mut rest)) = data.split_first() else {
        return Sent::default();
    };
    let peer = if flags & 1 == 1 { MEMBER } else { STRANGER };
    let dialer = flags & 2 == 2;
    let mut engine = Engine::new(Config {
        frame_timeout: 5_000,
        ..Config::default()
    });
    let mut store = Store::new();
    let mut auth = Auth { revoked: false };
    let mut now: Millis = 0;
    let mut conn = ConnId(1);
    let mut sent = Sent::default();
    let mut effects = engine.handle(
        now,
        Event::Connected { conn, peer, dialer },
        &mut store,
        &auth,
    );
    if flags & 4 == 4 {
        let hello = protocol::encode_frame(&Frame::Hello {
            space: space(),
            protocol: protocol::PROTOCOL,
        });
        effects.extend(engine.handle(
            now,
            Event::Received { conn, bytes: hello },
            &mut store,
            &auth,
        ));
    }
    if flags & 8 == 8 {
        let (bytes, tail) = real_sync_batch(&mut store, rest);
        rest = tail;
        effects.extend(engine.handle(now, Event::Received { conn, bytes }, &mut store, &auth));
    }
    check(&effects, peer, &mut sent);
    let mut unsent = unsent_of(&effects);
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let event = match op {
            0xf0 => {
                now += 10_000;
                Event::Tick
            }
            0xf1 => Event::Sent {
                conn,
                bytes: std::mem::take(&mut unsent),
            },
            0xf2 => {
                let doc = doc_ids()[usize::from(rest.first().copied().unwrap_or(0) % 4)];
                store.edit(doc, op);
                Event::LocalChange {
                    space: space(),
                    doc,
                }
            }
            0xf3 => Event::MembershipChanged,
            0xf4 => {
                auth.revoked = true;
                Event::Revoked {
                    space: space(),
                    device: MEMBER,
                }
            }
            0xf5 => {
                let fx = engine.handle(now, Event::Disconnected { conn }, &mut store, &auth);
                check(&fx, peer, &mut sent);
                conn = ConnId(conn.0 + 1);
                unsent = 0;
                Event::Connected { conn, peer, dialer }
            }
            _ => {
                let len = if op < 0xf0 {
                    usize::from(op)
                } else {
                    1024 * usize::from(op - 0xf5)
                };
                let (chunk, tail) = rest.split_at(len.min(rest.len()));
                rest = tail;
                now += 1;
                Event::Received {
                    conn,
                    bytes: chunk.to_vec(),
                }
            }
        };
        let fx = engine.handle(now, event, &mut store, &auth);
        unsent += unsent_of(&fx);
        check(&fx, peer, &mut sent);
    }
    for id in doc_ids() {
        let expected = if id.as_bytes()[0] <= 0xd2 {
            space()
        } else {
            other_space()
        };
        assert_eq!(
            store.docs.get(&id).map(|(s, _)| *s),
            Some(expected),
            "document {id} stays in its space"
        );
    }
    sent
}

/// A `SyncBatch` frame carrying a message `automerge::sync` really generated, shaped by the
/// first bytes of `data` (returned: the rest).
fn real_sync_batch<'a>(store: &mut Store, data: &'a [u8]) -> (Vec<u8>, &'a [u8]) {
    let mut take = {
        let mut rest = data;
        move || {
            let (first, tail) = rest.split_first().map_or((0, rest), |(b, t)| (*b, t));
            rest = tail;
            (first, rest)
        }
    };
    let (which, _) = take();
    let (fork, _) = take();
    let (flip_at, _) = take();
    let (flip, rest) = take();
    let ids = doc_ids();
    let doc = match which % 3 {
        0 => ids[0],
        1 => ids[2],
        _ => DocId::from_bytes([which; 16]),
    };
    let mut theirs = match store.docs.get_mut(&doc) {
        Some((_, ours)) if fork % 2 == 0 => ours.fork(),
        _ => AutoCommit::new(),
    };
    let _ = theirs.put(ROOT, "title", format!("from the peer {which} {fork}"));
    let mut message = theirs
        .sync()
        .generate_sync_message(&mut automerge::sync::State::new())
        .map(|m| m.encode())
        .unwrap_or_default();
    if flip != 0 && !message.is_empty() {
        let at = usize::from(flip_at) % message.len();
        message[at] ^= flip;
    }
    let frame = protocol::encode_frame(&Frame::SyncBatch {
        space: space(),
        messages: vec![(doc, message)],
    });
    (frame, rest)
}

fn unsent_of(effects: &[Effect]) -> usize {
    effects
        .iter()
        .map(|e| match e {
            Effect::Send { bytes, .. } => bytes.len(),
            _ => 0,
        })
        .sum()
}

fn check(effects: &[Effect], peer: DeviceId, sent: &mut Sent) {
    for effect in effects {
        match effect {
            Effect::Send {
                peer: to, bytes, ..
            } => {
                assert_eq!(*to, peer);
                let mut rest = bytes.as_slice();
                while !rest.is_empty() {
                    match protocol::decode_frame(rest) {
                        Ok((frame, used)) => {
                            assert!(used <= MAX_FRAME + protocol::LEN_BYTES);
                            sent.frames.push(frame);
                            rest = &rest[used..];
                        }
                        Err(e) => panic!("the engine sent bytes that are not frames: {e}"),
                    }
                }
                sent.bytes.extend_from_slice(bytes);
            }
            Effect::Persist { space, .. } | Effect::Changed { space, .. } => {
                assert_ne!(peer, STRANGER, "a stranger's bytes were persisted");
                assert_eq!(*space, self::space(), "the member only writes its space");
            }
            _ => {}
        }
    }
    if peer == STRANGER {
        for frame in &sent.frames {
            assert!(
                matches!(frame, Frame::Refused { .. }),
                "a stranger was sent {frame:?}"
            );
        }
        for id in doc_ids() {
            assert!(
                !sent.bytes.windows(16).any(|w| w == id.as_bytes()),
                "a stranger was sent document id {id}"
            );
        }
    }
}

// ------------------------------------------------------------------------- tickets ---

/// Reads `data` as ticket text (lossily as UTF-8). A ticket that reads must read the same
/// after being written again.
pub fn ticket_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(ticket) = Ticket::decode(&text) {
        assert_eq!(Ticket::decode(&ticket.encode()).ok(), Some(ticket));
    }
}

/// Reads `body` as a ticket's body behind a valid checksum, so that the parser behind the
/// checksum (version, ids, role, member flag, addresses) sees arbitrary bytes. The checksum
/// is computed as the ticket format defines it (4 bytes of a BLAKE3 derived key).
pub fn ticket_body(body: &[u8]) {
    let hash = blake3::derive_key("cohort ticket checksum v1", body);
    let mut bytes = body.to_vec();
    bytes.extend_from_slice(&hash[..4]);
    let text = format!(
        "{TICKET_PREFIX}{}",
        data_encoding::BASE32_NOPAD
            .encode(&bytes)
            .to_ascii_lowercase()
    );
    if let Ok(ticket) = Ticket::decode(&text) {
        assert_eq!(Ticket::decode(&ticket.encode()).ok(), Some(ticket));
    }
}

// -------------------------------------------------------------- membership entries ---

/// The key that created the harness's membership log.
fn creator_key() -> DeviceKey {
    DeviceKey::generate([0x11; 32])
}

/// A log's space and its valid `create` entry.
pub fn created_log() -> (SpaceId, Entry) {
    let key = creator_key();
    let nonce = [0x22; 16];
    let space = space_id_for(&key.device_id(), nonce);
    let create = Action::Create {
        creator: PersonId::from_bytes([0x33; 16]),
        nonce,
    }
    .signed(&key, space, ItemId::from_bytes([1; 16]), Timestamp(1));
    (space, create)
}

/// Reads `data` as an admission request (a JSON membership entry, as a `Redeem` frame
/// carries it) and takes it through everything a host does with one: parse its action,
/// check its signature, fold it into a log; and writes it into a log document and reads
/// it back, as syncing the log would.
pub fn entry_json(data: &[u8]) {
    let Ok(entry) = serde_json::from_slice::<Entry>(data) else {
        return;
    };
    entry_checks(&entry);
}

/// What a host does with an entry it received.
pub fn entry_checks(entry: &Entry) {
    let (space, create) = created_log();
    let _ = Action::parse(entry);
    let _ = signing_bytes(space, entry);
    let _ = verify_entry(space, entry);
    let log = vec![create.clone(), entry.clone()];
    let (state, rejected) = MembershipState::fold(space, &log);
    assert!(
        state.creator().is_some(),
        "the valid create applies whatever else is in the log"
    );
    assert!(
        rejected
            .iter()
            .all(|r| r.entry_id == entry.id || entry.id == create.id)
    );
    // Through a log document and back.
    let mut doc = AutoCommit::new();
    let log_id = DocId::from_bytes([0x44; 16]);
    if Membership::create(&mut doc, log_id, space).is_err() {
        return;
    }
    if Membership::append(&mut doc, entry).is_err() {
        return;
    }
    let Ok(loaded) = AutoCommit::load(&doc.save()) else {
        panic!("a log document we wrote does not load");
    };
    match Membership::read(&loaded) {
        Ok(read) => {
            let back: BTreeSet<&ItemId> = read.entries.iter().map(|e| &e.id).collect();
            assert!(
                back.contains(&entry.id) || !read.unreadable.is_empty(),
                "an appended entry reads back or is reported unreadable"
            );
            let _ = MembershipState::fold(space, &read.entries);
        }
        Err(e) => panic!("a log with one appended entry does not read: {e}"),
    }
}

/// Keys of the devices in [`signed_log`] (deriving a key is slow: made once).
fn log_keys() -> &'static [DeviceKey] {
    static KEYS: std::sync::OnceLock<Vec<DeviceKey>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        (0..6u8)
            .map(|n| DeviceKey::generate([0x70 + n; 32]))
            .collect()
    })
}

/// Builds a log of *validly signed* entries from `data` (four bytes per entry: what, by
/// which key, about whom, when; at most 64) after the harness's `create`, so that the fold's rules,
/// not its signature check, decide; then checks that the fold does not depend on the
/// order the entries arrive in.
pub fn signed_log(data: &[u8]) {
    let (space, create) = created_log();
    let creator = creator_key();
    let keys = log_keys();
    let role = |b: u8| [Role::Facilitator, Role::Learner, Role::Observer][usize::from(b % 3)];
    let person = |b: u8| PersonId::from_bytes([b % 6; 16]);
    let mut entries = vec![create];
    // At most 64 entries: signing is the slow part, and rules need few entries to meet.
    for (n, op) in data.chunks(4).take(64).enumerate() {
        let [what, by, about, when] = [0, 1, 2, 3].map(|i| op.get(i).copied().unwrap_or(0));
        let signer = if by % 7 == 6 {
            &creator
        } else {
            &keys[usize::from(by % 6)]
        };
        let device = keys[usize::from(about % 6)].device_id();
        let secret = [about % 3; 32];
        let action = match what % 8 {
            0 => Action::AddMember {
                member: person(about),
                device,
                role: role(what / 8),
            },
            1 => Action::ChangeRole {
                member: person(about),
                role: role(what / 8),
            },
            2 => Action::RemoveMember {
                member: person(about),
            },
            3 => Action::LinkDevice {
                member: person(by),
                device,
            },
            4 => {
                let invite = cohort_sync::membership::Invite::new(
                    secret,
                    role(what / 8),
                    Timestamp(i64::from(when) * 10),
                    u32::from(what / 64),
                );
                if what & 16 == 16 {
                    invite.linking(person(about)).issue()
                } else {
                    invite.issue()
                }
            }
            5 => cohort_sync::membership::redeem_action(
                &secret,
                person(about),
                signer.device_id(),
                role(what / 8),
            ),
            6 => Action::Create {
                creator: person(about),
                nonce: [when; 16],
            },
            _ => Action::InviteRedeemed {
                invite_key: cohort_sync::membership::invite_key_for(&secret),
                member: person(about),
                device,
                role: role(what / 8),
                proof: op.to_vec(),
            },
        };
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&(n as u64 + 2).to_be_bytes());
        id[8] = when;
        entries.push(action.signed(
            signer,
            space,
            ItemId::from_bytes(id),
            Timestamp(i64::from(when)),
        ));
    }
    let (forward, rejected) = MembershipState::fold(space, &entries);
    entries.reverse();
    let (backward, rejected_backward) = MembershipState::fold(space, &entries);
    assert_eq!(
        forward, backward,
        "the fold depends on the order of the log"
    );
    assert_eq!(rejected, rejected_backward);
    assert!(forward.creator().is_some());
}

/// Loads `data` as an Automerge document and reads it as a membership log (what a host
/// does with a log document a peer synced to it), folding whatever entries it holds.
pub fn membership_doc(data: &[u8]) {
    let Ok(doc) = AutoCommit::load(data) else {
        return;
    };
    if let Ok(log) = Membership::read(&doc) {
        let (space, _) = created_log();
        let _ = MembershipState::fold(space, &log.entries);
        let _ = MembershipState::fold(log.header.space, &log.entries);
    }
}
