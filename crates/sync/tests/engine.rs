//! Engine scenarios between two or three devices over a perfect in-order link.

#[path = "sim/mod.rs"]
mod sim;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use std::time::Instant;

use automerge::AutoCommit;
use automerge::sync::{self, SyncDoc};
use cohort_model::{DocId, SpaceId};
use cohort_sync::DeviceId;
use cohort_sync::engine::{Config, ConnId, DisconnectReason, Effect, Engine, Event};
use cohort_sync::protocol::{self, Frame, MAX_FRAME, RefuseReason};
use rstest::rstest;
use sim::{MemStore, Members, SimAuth, device, ok, space};

struct Peer {
    engine: Engine,
    store: MemStore,
    auth: SimAuth,
}

impl Peer {
    fn new(id: DeviceId, members: &Members, config: Config) -> Self {
        Peer {
            engine: Engine::new(config),
            store: MemStore::new(id),
            auth: SimAuth::new(id, members.clone()),
        }
    }
    fn handle(&mut self, now: u64, event: Event) -> Vec<Effect> {
        let effects = self.engine.handle(now, event, &mut self.store, &self.auth);
        self.store.apply(&effects);
        effects
    }
}

/// Devices joined by in-order links; bytes are delivered (and reported written) in FIFO
/// order. Every frame delivered is recorded per receiving device.
struct Lab {
    peers: Vec<Peer>,
    ids: Vec<DeviceId>,
    /// conn -> (dialer index, listener index)
    links: BTreeMap<u64, (usize, usize)>,
    wire: VecDeque<(u64, usize, Vec<u8>)>,
    /// Frames delivered, per receiving device.
    seen: Vec<Vec<Frame>>,
    bytes: u64,
    disconnects: Vec<(usize, DisconnectReason)>,
    other: Vec<(usize, Effect)>,
    now: u64,
    /// Report bytes written as soon as they are sent (otherwise only on `release`).
    auto_written: bool,
    unwritten: Vec<(usize, u64, usize)>,
}

impl Lab {
    fn new(members: Vec<(SpaceId, Vec<u8>)>, devices: usize, config: Config) -> Self {
        let members: Members = Rc::new(
            members
                .into_iter()
                .map(|(s, ds)| (s, ds.into_iter().map(device).collect::<BTreeSet<_>>()))
                .collect(),
        );
        let ids: Vec<DeviceId> = (0..devices).map(|i| device(i as u8)).collect();
        Lab {
            peers: ids
                .iter()
                .map(|id| Peer::new(*id, &members, config.clone()))
                .collect(),
            ids,
            links: BTreeMap::new(),
            wire: VecDeque::new(),
            seen: vec![Vec::new(); devices],
            bytes: 0,
            disconnects: Vec::new(),
            other: Vec::new(),
            now: 0,
            auto_written: true,
            unwritten: Vec::new(),
        }
    }

    fn effects(&mut self, at: usize, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Send { conn, bytes, .. } => {
                    let (a, b) = self.links[&conn.0];
                    let to = if at == a { b } else { a };
                    if self.auto_written {
                        let fx = self.peers[at].handle(
                            self.now,
                            Event::Sent {
                                conn,
                                bytes: bytes.len(),
                            },
                        );
                        self.wire.push_back((conn.0, to, bytes));
                        self.effects(at, fx);
                    } else {
                        self.unwritten.push((at, conn.0, bytes.len()));
                        self.wire.push_back((conn.0, to, bytes));
                    }
                }
                Effect::Disconnect { conn, reason, .. } => {
                    self.disconnects.push((at, reason));
                    if let Some((a, b)) = self.links.remove(&conn.0) {
                        let other = if at == a { b } else { a };
                        let fx = self.peers[other].handle(self.now, Event::Disconnected { conn });
                        self.effects(other, fx);
                    }
                }
                other => self.other.push((at, other)),
            }
        }
    }

    fn connect(&mut self, conn: u64, dialer: usize, listener: usize) {
        self.links.insert(conn, (dialer, listener));
        let (a, b) = (self.ids[dialer], self.ids[listener]);
        let fx = self.peers[listener].handle(
            self.now,
            Event::Connected {
                conn: ConnId(conn),
                peer: a,
                dialer: false,
            },
        );
        self.effects(listener, fx);
        let fx = self.peers[dialer].handle(
            self.now,
            Event::Connected {
                conn: ConnId(conn),
                peer: b,
                dialer: true,
            },
        );
        self.effects(dialer, fx);
    }

    fn deliver(&mut self, conn: u64, to: usize, bytes: Vec<u8>) {
        if !self.links.contains_key(&conn) {
            return;
        }
        let mut rest = &bytes[..];
        while let Ok((frame, used)) = protocol::decode_frame(rest) {
            self.seen[to].push(frame);
            rest = &rest[used..];
        }
        self.bytes += bytes.len() as u64;
        let fx = self.peers[to].handle(
            self.now,
            Event::Received {
                conn: ConnId(conn),
                bytes,
            },
        );
        self.effects(to, fx);
    }

    fn pump(&mut self) {
        let mut steps = 0;
        while let Some((conn, to, bytes)) = self.wire.pop_front() {
            steps += 1;
            assert!(steps < 1_000_000, "the exchange must terminate");
            self.now += 1;
            self.deliver(conn, to, bytes);
        }
    }

    /// Reports every sent byte as written (for runs with `auto_written` off).
    fn release(&mut self) {
        for (at, conn, n) in std::mem::take(&mut self.unwritten) {
            if self.links.contains_key(&conn) {
                let fx = self.peers[at].handle(
                    self.now,
                    Event::Sent {
                        conn: ConnId(conn),
                        bytes: n,
                    },
                );
                self.effects(at, fx);
            }
        }
    }

    fn local_change(&mut self, at: usize, space: SpaceId, doc: DocId) {
        let fx = self.peers[at].handle(self.now, Event::LocalChange { space, doc });
        self.effects(at, fx);
    }

    fn heads(&mut self, at: usize, space: SpaceId) -> BTreeMap<DocId, Vec<automerge::ChangeHash>> {
        self.peers[at].store.heads_of(space)
    }
}

fn doc_id(n: u32) -> DocId {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&n.to_be_bytes());
    b[15] = 0xd0;
    DocId::from_bytes(b)
}

/// Story: Alice and Bob share a space; Alice has three documents, Bob two others; they
/// connect; both end with all five, and what each persisted reloads to the same heads.
#[test]
fn two_peers_exchange_what_the_other_lacks() {
    let s = space(1);
    let mut lab = Lab::new(vec![(s, vec![0, 1])], 2, Config::default());
    for i in 0..3 {
        lab.peers[0].store.create_local(s, doc_id(i), "alice", "a");
    }
    for i in 10..12 {
        lab.peers[1].store.create_local(s, doc_id(i), "bob", "b");
    }
    lab.connect(1, 0, 1);
    lab.pump();
    assert!(lab.disconnects.is_empty(), "{:?}", lab.disconnects);
    let (a, b) = (lab.heads(0, s), lab.heads(1, s));
    assert_eq!(a.len(), 5, "Alice must hold all five documents");
    assert_eq!(a, b, "both must hold identical documents");
    for p in &mut lab.peers {
        p.store.reload();
    }
    assert_eq!(
        lab.heads(0, s),
        a,
        "Alice's persisted state must reload to what she holds"
    );
    assert_eq!(
        lab.heads(1, s),
        b,
        "Bob's persisted state must reload to what he holds"
    );
    let persisted = lab
        .other
        .iter()
        .filter(|(_, e)| matches!(e, Effect::Persist { .. }))
        .count();
    assert_eq!(persisted, 5, "each received document is persisted once");
}

/// Story: Mallory is not a member of the space but asks for it. Alice answers `Refused`
/// and nothing else: no digest, no summary, no document id. When Mallory pushes a sync
/// message anyway, Alice disconnects her.
#[test]
fn an_unauthorized_peer_gets_refused_and_nothing_else() {
    let s = space(1);
    let mut lab = Lab::new(vec![(s, vec![0])], 2, Config::default());
    lab.peers[0]
        .store
        .create_local(s, doc_id(1), "secret", "plans");
    lab.peers[1].auth.claims.insert(s);
    lab.connect(1, 1, 0); // Mallory (1) dials Alice (0)
    lab.pump();
    assert_eq!(
        lab.seen[1],
        vec![Frame::Refused {
            space: s,
            reason: RefuseReason::NotAuthorized
        }],
        "a non-member must learn nothing but the refusal"
    );
    assert!(
        lab.other
            .iter()
            .any(|(at, e)| *at == 1 && matches!(e, Effect::Refused { .. })),
        "Mallory's host is told about the refusal"
    );
    assert!(
        lab.other.iter().any(|(at, e)| *at == 0
            && matches!(e, Effect::RefusedPeer { peer, space, reason: RefuseReason::NotAuthorized, .. }
                if *peer == device(1) && *space == s)),
        "Alice's host learns whom it refused, for its log: {:?}",
        lab.other
    );
    // Mallory pushes a message for the space anyway.
    let mut fake = AutoCommit::new();
    let msg = fake
        .sync()
        .generate_sync_message(&mut sync::State::new())
        .map(|m| m.encode())
        .unwrap_or_default();
    let frame = protocol::encode_frame(&Frame::SyncBatch {
        space: s,
        messages: vec![(doc_id(1), msg)],
    });
    lab.deliver(1, 0, frame);
    assert!(
        matches!(
            lab.disconnects.as_slice(),
            [(0, DisconnectReason::Violation(_))]
        ),
        "a frame for a space without a session closes the connection: {:?}",
        lab.disconnects
    );
    assert!(lab.seen[1].len() == 1, "still nothing more reached Mallory");
}

/// Story: a personal space shared by Alice's laptop and phone, and a cohort space shared
/// with Bob. Bob connects to the laptop; he gets the cohort documents and never a frame
/// about the personal space.
#[test]
fn a_personal_space_never_reaches_another_person() {
    let personal = space(1);
    let cohort = space(2);
    let mut lab = Lab::new(
        vec![(personal, vec![0, 1]), (cohort, vec![0, 1, 2])],
        3,
        Config::default(),
    );
    lab.peers[0]
        .store
        .create_local(personal, doc_id(1), "journal", "dear diary");
    lab.peers[0]
        .store
        .create_local(cohort, doc_id(2), "course", "lesson");
    lab.connect(1, 0, 2); // laptop dials Bob
    lab.connect(2, 2, 0); // Bob dials laptop
    lab.connect(3, 0, 1); // laptop dials phone
    lab.pump();
    assert!(lab.disconnects.is_empty(), "{:?}", lab.disconnects);
    assert!(
        lab.seen[2].iter().all(|f| f.space() == cohort),
        "Bob must never see a frame about Alice's personal space"
    );
    assert_eq!(
        lab.peers[2].store.docs_in(personal),
        vec![],
        "Bob holds no journal"
    );
    assert_eq!(lab.peers[2].store.docs_in(cohort), vec![doc_id(2)]);
    assert_eq!(
        lab.peers[1].store.docs_in(personal),
        vec![doc_id(1)],
        "the phone has it"
    );
}

fn valid_hello() -> Vec<u8> {
    protocol::encode_frame(&Frame::Hello {
        space: space(1),
        protocol: protocol::PROTOCOL,
    })
}

/// Garbage, oversized or out-of-place frames close the connection; nothing panics.
#[rstest]
#[case::random_bytes(vec![0x13, 0x37, 0xca, 0xfe, 0xba, 0xbe, 0x00, 0x01, 0x02], "malformed")]
#[case::oversized_prefix(((MAX_FRAME as u32) + 1).to_be_bytes().to_vec(), "malformed")]
#[case::zero_length(vec![0, 0, 0, 0], "malformed")]
#[case::unknown_version({ let mut f = valid_hello(); f[4] = 99; f }, "malformed")]
#[case::unknown_type({ let mut f = valid_hello(); f[5] = 99; f }, "malformed")]
#[case::trailing_garbage({ let mut f = valid_hello(); f[3] += 1; f.push(0); f }, "malformed")]
#[case::welcome_without_hello(protocol::encode_frame(&Frame::Welcome { space: space(1) }), "violation")]
#[case::digest_without_session(protocol::encode_frame(&Frame::Digest { space: space(1), root: [0; 16], count: 0 }), "violation")]
#[case::hello_twice({ let mut f = valid_hello(); f.extend(valid_hello()); f }, "violation")]
#[case::bad_sync_message({
    let mut f = valid_hello();
    f.extend(protocol::encode_frame(&Frame::SyncBatch { space: space(1), messages: vec![(doc_id(1), vec![0x42, 0xff, 0xff])] }));
    f
}, "bad sync")]
fn hostile_bytes_disconnect_without_panicking(#[case] bytes: Vec<u8>, #[case] expected: &str) {
    let s = space(1);
    let mut lab = Lab::new(vec![(s, vec![0, 1])], 2, Config::default());
    // Device 1 is a member, connected as the dialer, but sends raw bytes.
    lab.links.insert(1, (1, 0));
    let fx = lab.peers[0].handle(
        0,
        Event::Connected {
            conn: ConnId(1),
            peer: device(1),
            dialer: false,
        },
    );
    lab.effects(0, fx);
    lab.deliver(1, 0, bytes);
    let reason = match lab.disconnects.as_slice() {
        [(0, reason)] => reason.clone(),
        other => panic!("expected exactly one disconnect by the listener, got {other:?}"),
    };
    let kind = match reason {
        DisconnectReason::Malformed(_) => "malformed",
        DisconnectReason::Violation(_) => "violation",
        DisconnectReason::BadSyncMessage(_) => "bad sync",
        _ => "other",
    };
    assert_eq!(kind, expected, "{reason:?}");
    // Bytes after the disconnect are ignored.
    lab.deliver(1, 0, vec![1, 2, 3]);
    assert_eq!(lab.disconnects.len(), 1);
}

#[test]
fn a_frame_split_into_single_bytes_still_syncs() {
    let s = space(1);
    let mut lab = Lab::new(vec![(s, vec![0, 1])], 2, Config::default());
    lab.peers[0].store.create_local(s, doc_id(1), "t", "body");
    lab.connect(1, 0, 1);
    while let Some((conn, to, bytes)) = lab.wire.pop_front() {
        for b in bytes {
            lab.deliver(conn, to, vec![b]);
        }
    }
    assert!(lab.disconnects.is_empty(), "{:?}", lab.disconnects);
    assert_eq!(lab.heads(0, s), lab.heads(1, s));
}

#[test]
fn a_frame_from_a_space_of_another_member_is_not_applied() {
    // Bob may read space 1 only; he names a document of space 2 in a space-1 batch.
    let (s1, s2) = (space(1), space(2));
    let mut lab = Lab::new(vec![(s1, vec![0, 1]), (s2, vec![0])], 2, Config::default());
    lab.peers[0]
        .store
        .create_local(s2, doc_id(7), "private", "x");
    lab.connect(1, 1, 0);
    lab.pump();
    let mut fake = AutoCommit::new();
    let msg = fake
        .sync()
        .generate_sync_message(&mut sync::State::new())
        .map(|m| m.encode())
        .unwrap_or_default();
    let frame = protocol::encode_frame(&Frame::SyncBatch {
        space: s1,
        messages: vec![(doc_id(7), msg)],
    });
    let before = lab.seen[1].len();
    lab.deliver(1, 0, frame);
    lab.pump();
    assert_eq!(
        lab.seen[1].len(),
        before,
        "asking for a document of another space by id gets no answer"
    );
    assert!(lab.peers[1].store.docs_in(s2).is_empty());
}

/// Story: Alice and Bob are in sync; Alice types; Bob gets it in one round trip. Then Bob
/// is removed from the space: his connection closes at once and a new one is refused.
#[test]
fn live_changes_flow_and_a_revoked_member_is_dropped() {
    let s = space(1);
    let mut lab = Lab::new(vec![(s, vec![0, 1])], 2, Config::default());
    lab.peers[0].store.create_local(s, doc_id(1), "t", "hello");
    lab.connect(1, 0, 1);
    lab.pump();
    let frames_before = lab.seen[1].len() + lab.seen[0].len();
    lab.peers[0].store.edit_local(doc_id(1), 5, false, " world");
    lab.local_change(0, s, doc_id(1));
    lab.pump();
    assert_eq!(
        lab.heads(0, s),
        lab.heads(1, s),
        "Bob sees Alice's keystrokes"
    );
    let frames = lab.seen[1].len() + lab.seen[0].len() - frames_before;
    assert!(
        frames <= 3,
        "a keystroke takes at most three frames, took {frames}"
    );

    // Bob is removed.
    let mut members = (*lab.peers[0].auth.members).clone();
    members.insert(s, [device(0)].into());
    lab.peers[0].auth.members = Rc::new(members);
    let fx = lab.peers[0].handle(
        lab.now,
        Event::Revoked {
            space: s,
            device: device(1),
        },
    );
    lab.effects(0, fx);
    assert!(
        matches!(lab.disconnects.as_slice(), [(0, DisconnectReason::Revoked)]),
        "{:?}",
        lab.disconnects
    );
    // Bob reconnects (his own view still lists him): refused, and later edits never reach him.
    lab.connect(2, 1, 0);
    lab.pump();
    assert!(matches!(lab.seen[1].last(), Some(Frame::Refused { .. })));
    let seen = lab.seen[1].len();
    lab.peers[0]
        .store
        .edit_local(doc_id(1), 0, false, "secret ");
    lab.local_change(0, s, doc_id(1));
    lab.pump();
    assert_eq!(
        lab.seen[1].len(),
        seen,
        "a removed member receives nothing more"
    );
}

#[test]
fn outbound_budget_pauses_generation_until_bytes_are_written() {
    let s = space(1);
    let config = Config {
        max_unsent: 4096,
        batch_target: 1024,
        ..Config::default()
    };
    let mut lab = Lab::new(vec![(s, vec![0, 1])], 2, config);
    for i in 0..200 {
        lab.peers[0]
            .store
            .create_local(s, doc_id(i), "t", "some body text");
    }
    lab.auto_written = false;
    lab.connect(1, 0, 1);
    let mut rounds = 0;
    loop {
        let queued: usize = lab.wire.iter().map(|(_, _, b)| b.len()).sum();
        assert!(
            queued <= 4096 + 2 * 1024 + 4096,
            "unwritten bytes must stay near the budget, got {queued}"
        );
        lab.pump();
        if lab.unwritten.is_empty() {
            break;
        }
        lab.release();
        rounds += 1;
        assert!(rounds < 10_000);
    }
    assert!(
        rounds > 3,
        "the budget must have paused the sender a few times ({rounds})"
    );
    assert!(lab.disconnects.is_empty());
    assert_eq!(lab.heads(0, s), lab.heads(1, s));
    assert_eq!(lab.heads(1, s).len(), 200);
}

/// A peer that begins a frame and stops is disconnected once the frame is older than
/// `frame_timeout` (checked on `Tick`); whole frames, and a clean boundary, are never timed.
#[test]
fn a_peer_that_stops_inside_a_frame_is_disconnected_on_tick() {
    let s = space(1);
    let config = Config {
        frame_timeout: 1_000,
        ..Config::default()
    };
    let mut lab = Lab::new(vec![(s, vec![0, 1])], 2, config);
    lab.connect(1, 1, 0);
    lab.pump();
    // Idle at a frame boundary for a long time: nothing happens.
    lab.now = 60_000;
    let fx = lab.peers[0].handle(lab.now, Event::Tick);
    assert!(fx.is_empty(), "{fx:?}");
    // Half a frame (its bytes arrive whole, the rest never does).
    let frame = protocol::encode_frame(&Frame::Digest {
        space: s,
        root: [7; 16],
        count: 3,
    });
    lab.deliver(1, 0, frame[..10].to_vec());
    lab.now += 900;
    lab.deliver(1, 0, frame[10..12].to_vec());
    let fx = lab.peers[0].handle(lab.now, Event::Tick);
    assert!(fx.is_empty(), "not stalled yet: {fx:?}");
    assert!(lab.disconnects.is_empty(), "{:?}", lab.disconnects);
    // More bytes of the same frame do not restart its clock.
    lab.now += 200;
    let fx = lab.peers[0].handle(lab.now, Event::Tick);
    lab.effects(0, fx);
    assert_eq!(
        lab.disconnects,
        vec![(0, DisconnectReason::FrameStalled)],
        "the stalled peer is disconnected"
    );
    assert_eq!(
        DisconnectReason::FrameStalled.to_string(),
        "left a frame unfinished"
    );
}

/// A peer asking for space after space is answered `max_refusals` times on a connection,
/// then disconnected (its probing, and the host's log of it, stay bounded).
#[test]
fn a_peer_refused_too_often_is_disconnected() {
    let s = space(1);
    let config = Config {
        max_refusals: 5,
        ..Config::default()
    };
    let mut lab = Lab::new(vec![(s, vec![0])], 2, config);
    lab.connect(1, 1, 0); // the stranger (1) dials device 0, which answers
    lab.pump();
    for n in 0..8u8 {
        let hello = protocol::encode_frame(&Frame::Hello {
            space: SpaceId::from_bytes([100 + n; 16]),
            protocol: protocol::PROTOCOL,
        });
        // (The refusals stay on the wire: the stranger's own engine never sent these.)
        lab.deliver(1, 0, hello);
    }
    let refused = lab
        .other
        .iter()
        .filter(|(at, e)| *at == 0 && matches!(e, Effect::RefusedPeer { .. }))
        .count();
    assert_eq!(refused, 5, "{:?}", lab.other);
    let refusals_sent = lab
        .wire
        .iter()
        .filter(|(_, to, bytes)| {
            *to == 1
                && matches!(
                    protocol::decode_frame(bytes),
                    Ok((Frame::Refused { .. }, _))
                )
        })
        .count();
    assert_eq!(refusals_sent, 5);
    assert_eq!(
        lab.disconnects,
        vec![(0, DisconnectReason::Violation("too many refused requests"))]
    );
}

#[test]
fn a_flooding_peer_is_rate_limited() {
    let s = space(1);
    let config = Config {
        recv_rate: 1000,
        recv_burst: 4000,
        ..Config::default()
    };
    let mut lab = Lab::new(vec![(s, vec![0, 1])], 2, config);
    lab.connect(1, 1, 0);
    lab.pump();
    // The start of a large (valid-sized) frame, then a stream of its bytes, far faster
    // than 1,000 bytes per second.
    lab.deliver(1, 0, (1024u32 * 1024).to_be_bytes().to_vec());
    for _ in 0..10 {
        lab.deliver(1, 0, vec![0; 1000]);
    }
    assert!(
        lab.disconnects
            .iter()
            .any(|(at, r)| *at == 0 && *r == DisconnectReason::RateLimited),
        "{:?}",
        lab.disconnects
    );
}

/// Runs bare `automerge::sync` between a full copy and an empty one, returning the bytes of
/// all messages both ways.
fn bare_sync_bytes(full: &mut AutoCommit) -> usize {
    let mut empty = AutoCommit::new();
    let (mut sa, mut sb) = (sync::State::new(), sync::State::new());
    let mut total = 0;
    loop {
        let mut quiet = true;
        if let Some(m) = full.sync().generate_sync_message(&mut sa) {
            let bytes = m.encode();
            total += bytes.len();
            let m = ok(sync::Message::decode(&bytes));
            ok(empty.sync().receive_sync_message(&mut sb, m));
            quiet = false;
        }
        if let Some(m) = empty.sync().generate_sync_message(&mut sb) {
            let bytes = m.encode();
            total += bytes.len();
            let m = ok(sync::Message::decode(&bytes));
            ok(full.sync().receive_sync_message(&mut sa, m));
            quiet = false;
        }
        if quiet {
            return total;
        }
    }
}

/// Story: Alice holds 1,000 small documents, Bob none. They connect and converge; the
/// bytes on the wire are compared with bare `automerge::sync` for the same documents.
/// Then they reconnect already in sync and exchange almost nothing.
#[test]
fn a_thousand_docs_converge_with_little_overhead() {
    let s = space(1);
    let mut lab = Lab::new(vec![(s, vec![0, 1])], 2, Config::default());
    for i in 0..1000 {
        lab.peers[0]
            .store
            .create_local(s, doc_id(i), &format!("note {i}"), "a short body");
        lab.peers[0]
            .store
            .edit_local(doc_id(i), 3, false, "edited ");
    }
    let bare: usize = lab.peers[0]
        .store
        .docs
        .values_mut()
        .map(|d| bare_sync_bytes(&mut d.doc.clone()))
        .sum();
    let started = Instant::now();
    lab.connect(1, 0, 1);
    lab.pump();
    let took = started.elapsed();
    assert!(lab.disconnects.is_empty());
    assert_eq!(lab.heads(1, s).len(), 1000);
    assert_eq!(lab.heads(0, s), lab.heads(1, s));
    let ratio = lab.bytes as f64 / bare as f64;
    println!(
        "1,000 docs: {} bytes on the wire vs {bare} bare automerge sync bytes: ratio {ratio:.3} ({took:?}, debug build)",
        lab.bytes
    );
    assert!(ratio < 2.0, "protocol overhead must stay small: {ratio:.3}");

    // Reconnect, already in sync.
    let before = lab.bytes;
    lab.links.remove(&1);
    for p in lab.peers.iter_mut() {
        p.handle(0, Event::Disconnected { conn: ConnId(1) });
    }
    lab.connect(2, 1, 0);
    lab.pump();
    let again = lab.bytes - before;
    println!("reconnect in sync: {again} bytes for 1,000 docs");
    assert!(
        again < 1024,
        "peers in sync exchange under 1 KB, sent {again}"
    );
}

/// Whether device `at` has an active session for `space` that says it is in sync: the
/// space compared with the peer and nothing pending.
fn says_in_sync(lab: &Lab, at: usize, space: SpaceId) -> bool {
    lab.peers[at]
        .engine
        .sessions()
        .iter()
        .any(|x| x.space == space && x.active && x.compared && x.pending == 0)
}

/// Story: Alice holds 200 documents and Bob 3 others. Frame by frame, whenever either side
/// says the space is in sync, both hold the same documents with the same heads (so a
/// "synced" notice is never early); both end in sync, and each side's count of the space's
/// bytes matches what crossed the link. Reconnected, they say so again only after comparing.
#[test]
fn a_session_says_in_sync_only_once_both_sides_hold_the_same_heads() {
    let s = space(1);
    let mut lab = Lab::new(vec![(s, vec![0, 1])], 2, Config::default());
    for i in 0..200 {
        lab.peers[0].store.create_local(s, doc_id(i), "alice", "a");
    }
    for i in 1000..1003 {
        lab.peers[1].store.create_local(s, doc_id(i), "bob", "b");
    }
    let mut claims = [0, 0];
    let step = |lab: &mut Lab, claims: &mut [usize; 2]| {
        let mut steps = 0;
        while let Some((conn, to, bytes)) = lab.wire.pop_front() {
            steps += 1;
            assert!(steps < 100_000, "the exchange must terminate");
            lab.now += 1;
            lab.deliver(conn, to, bytes);
            for (at, claimed) in claims.iter_mut().enumerate() {
                if says_in_sync(lab, at, s) {
                    *claimed += 1;
                    assert_eq!(
                        lab.heads(0, s),
                        lab.heads(1, s),
                        "device {at} says it is in sync before it is (step {steps})"
                    );
                }
            }
        }
    };
    lab.connect(1, 0, 1);
    assert!(!says_in_sync(&lab, 0, s) && !says_in_sync(&lab, 1, s));
    step(&mut lab, &mut claims);
    assert!(lab.disconnects.is_empty(), "{:?}", lab.disconnects);
    assert_eq!(lab.heads(1, s).len(), 203);
    assert!(
        says_in_sync(&lab, 0, s) && says_in_sync(&lab, 1, s),
        "both end in sync"
    );
    let (a, b) = (
        lab.peers[0].engine.space_bytes(s),
        lab.peers[1].engine.space_bytes(s),
    );
    assert_eq!((a.sent, a.received), (b.received, b.sent));
    assert_eq!(
        a.sent + a.received,
        lab.bytes,
        "every frame is about the space"
    );

    lab.links.remove(&1);
    for p in lab.peers.iter_mut() {
        p.handle(0, Event::Disconnected { conn: ConnId(1) });
    }
    lab.connect(2, 1, 0);
    assert!(
        !says_in_sync(&lab, 0, s) && !says_in_sync(&lab, 1, s),
        "a new connection is not in sync before the digests are compared"
    );
    step(&mut lab, &mut claims);
    assert!(says_in_sync(&lab, 0, s) && says_in_sync(&lab, 1, s));
}

/// Both sides edit the same documents concurrently while disconnected, then converge.
#[test]
fn concurrent_edits_to_the_same_documents_merge() {
    let s = space(1);
    let mut lab = Lab::new(vec![(s, vec![0, 1])], 2, Config::default());
    for i in 0..20 {
        lab.peers[0].store.create_local(s, doc_id(i), "t", "shared");
    }
    lab.connect(1, 0, 1);
    lab.pump();
    lab.links.remove(&1);
    for p in lab.peers.iter_mut() {
        p.handle(0, Event::Disconnected { conn: ConnId(1) });
    }
    for i in 0..20 {
        lab.peers[0]
            .store
            .edit_local(doc_id(i), i as usize, false, "A");
        lab.peers[1].store.edit_local(doc_id(i), 0, true, "B");
    }
    lab.connect(2, 1, 0);
    lab.pump();
    assert!(lab.disconnects.is_empty());
    let heads = lab.heads(0, s);
    assert_eq!(heads, lab.heads(1, s));
    assert!(
        heads.values().all(|h| h.len() == 2),
        "each doc has both concurrent heads"
    );
}

/// Takes the `Admit` effects the lab collected for device `at`.
fn take_admits(lab: &mut Lab, at: usize) -> Vec<(ConnId, DeviceId, SpaceId, Vec<u8>)> {
    let mut out = Vec::new();
    lab.other.retain(|(who, e)| match e {
        Effect::Admit {
            conn,
            peer,
            space,
            request,
        } if *who == at => {
            out.push((*conn, *peer, *space, request.clone()));
            false
        }
        _ => true,
    });
    out
}

/// Story: Jo holds an invite to Alice's cohort. Jo dials Alice with `Redeem`; Alice's engine
/// says nothing about the space until her host has checked the request; once the host
/// admits Jo, Alice answers `Welcome` and Jo receives every document.
#[test]
fn an_invited_peer_is_admitted_then_syncs() {
    let s = space(1);
    let mut lab = Lab::new(vec![(s, vec![0])], 2, Config::default());
    for i in 0..3 {
        lab.peers[0]
            .store
            .create_local(s, doc_id(i), "lesson", "text");
    }
    lab.peers[1].auth.claims.insert(s);
    lab.peers[1]
        .auth
        .requests
        .insert(s, b"good invite".to_vec());
    lab.connect(1, 1, 0);
    lab.pump();
    assert_eq!(
        lab.seen[0],
        vec![Frame::Redeem {
            space: s,
            protocol: protocol::PROTOCOL,
            request: b"good invite".to_vec()
        }],
        "Jo asks to be admitted instead of saying hello"
    );
    assert!(
        lab.seen[1].is_empty(),
        "Alice says nothing before her host decides: {:?}",
        lab.seen[1]
    );
    let admits = take_admits(&mut lab, 0);
    assert_eq!(admits.len(), 1, "Alice's host is asked once");
    let (conn, peer, space, request) = admits[0].clone();
    assert_eq!((peer, space), (lab.ids[1], s));
    assert_eq!(request, b"good invite");
    // The host admits Jo: its membership view now includes Jo.
    lab.peers[0].auth.admitted.insert((s, peer));
    let fx = lab.peers[0].handle(
        lab.now,
        Event::Admitted {
            conn,
            space: s,
            result: Ok(()),
        },
    );
    lab.effects(0, fx);
    lab.pump();
    assert!(lab.disconnects.is_empty(), "{:?}", lab.disconnects);
    assert_eq!(
        lab.heads(1, s),
        lab.heads(0, s),
        "Jo holds Alice's documents"
    );
    assert_eq!(lab.heads(1, s).len(), 3);
}

/// Story: Jo's invite has expired. Alice's host refuses; Jo is told why and receives no
/// document id; a sync frame Jo pushes anyway closes the connection.
#[test]
fn a_refused_admission_reveals_nothing() {
    let s = space(1);
    let mut lab = Lab::new(vec![(s, vec![0])], 2, Config::default());
    lab.peers[0]
        .store
        .create_local(s, doc_id(1), "secret", "plans");
    lab.peers[1].auth.claims.insert(s);
    lab.peers[1].auth.requests.insert(s, b"old invite".to_vec());
    lab.connect(1, 1, 0);
    lab.pump();
    let admits = take_admits(&mut lab, 0);
    let (conn, ..) = admits[0].clone();
    let fx = lab.peers[0].handle(
        lab.now,
        Event::Admitted {
            conn,
            space: s,
            result: Err(RefuseReason::InviteExpired),
        },
    );
    lab.effects(0, fx);
    lab.pump();
    assert_eq!(
        lab.seen[1],
        vec![Frame::Refused {
            space: s,
            reason: RefuseReason::InviteExpired
        }]
    );
    assert!(
        lab.other.iter().any(|(at, e)| *at == 1
            && matches!(
                e,
                Effect::Refused {
                    reason: RefuseReason::InviteExpired,
                    ..
                }
            )),
        "Jo's host learns the reason"
    );
    assert!(lab.heads(1, s).is_empty());
    // A host that says "admitted" without its membership view agreeing still refuses.
    lab.connect(2, 1, 0);
    lab.pump();
    let (conn, ..) = take_admits(&mut lab, 0)[0].clone();
    let fx = lab.peers[0].handle(
        lab.now,
        Event::Admitted {
            conn,
            space: s,
            result: Ok(()),
        },
    );
    lab.effects(0, fx);
    lab.pump();
    assert!(lab.heads(1, s).is_empty(), "no document without membership");
    let push = protocol::encode_frame(&Frame::Digest {
        space: s,
        root: [0; 16],
        count: 0,
    });
    lab.deliver(2, 0, push);
    assert!(
        lab.disconnects
            .iter()
            .any(|(at, r)| *at == 0 && matches!(r, DisconnectReason::Violation(_))),
        "a frame for a refused space closes the connection: {:?}",
        lab.disconnects
    );
}

/// Story: this time Alice dials Jo (she found him on the LAN). Jo, who did not dial, still
/// presents his redemption, and is admitted and synced the same way.
#[test]
fn an_invited_peer_that_was_dialed_still_redeems() {
    let s = space(1);
    let mut lab = Lab::new(vec![(s, vec![0])], 2, Config::default());
    lab.peers[0]
        .store
        .create_local(s, doc_id(1), "lesson", "text");
    lab.peers[1].auth.claims.insert(s);
    lab.peers[1]
        .auth
        .requests
        .insert(s, b"good invite".to_vec());
    lab.connect(1, 0, 1); // Alice (0) dials Jo (1)
    lab.pump();
    let admits = take_admits(&mut lab, 0);
    assert_eq!(
        admits.len(),
        1,
        "Jo asked to be admitted: {:?}",
        lab.seen[0]
    );
    let (conn, peer, ..) = admits[0].clone();
    lab.peers[0].auth.admitted.insert((s, peer));
    let fx = lab.peers[0].handle(
        lab.now,
        Event::Admitted {
            conn,
            space: s,
            result: Ok(()),
        },
    );
    lab.effects(0, fx);
    lab.pump();
    assert!(lab.disconnects.is_empty(), "{:?}", lab.disconnects);
    assert_eq!(lab.heads(1, s), lab.heads(0, s));
    assert_eq!(lab.heads(1, s).len(), 1);
}
