//! The sync engine: per-connection, per-space sessions that authorize before disclosing,
//! compare space digests, and run `automerge::sync` only for documents that differ.
//!
//! The engine does no I/O and reads no clock. The host feeds it [`Event`]s through
//! [`Engine::handle`] together with the current time and two views of its own state, and
//! carries out the [`Effect`]s it returns (send bytes, close a connection, persist changes,
//! tell the UI). The wire format is described in [`crate::protocol`].
//!
//! # The host interface, and why it is two traits
//!
//! - [`DocStore`]: the host's documents. The engine reads and merges into the host's own
//!   `AutoCommit`s through `&mut` borrows for the duration of one `handle` call. Syncing a
//!   space touches many documents in many round trips; asking for each with a `Load` effect
//!   and waiting for a `Loaded` event would force the engine to park received messages per
//!   document (another queue to bound) and would add a host round trip per document to the
//!   first-sync latency. The host already holds recently used documents in memory and loads
//!   others from its local database synchronously, so a borrowed view is both simpler and
//!   faster, and the engine still performs no I/O itself. Every store call is scoped by
//!   space: a store must never hand out a document of another space, which is what keeps a
//!   member of one space from reading or writing a document of another by naming its id.
//! - [`Authorizer`]: the host's view of the membership fold. It answers synchronously (the
//!   fold is in memory), so no frame can arrive while an authorization answer is pending,
//!   and the engine asks it again on every received frame and before every push: a device
//!   removed from a space loses access at once even if the host forgets to report
//!   [`Event::Revoked`] (which also closes its connections immediately).
//!
//! # Bounds
//!
//! - Received bytes are buffered only up to one frame, whose length is checked against
//!   [`MAX_FRAME`] from its 4-byte prefix, and a frame must be complete within
//!   [`Config::frame_timeout`] of its first byte (checked on [`Event::Tick`]): a peer that
//!   stops inside a frame is disconnected rather than left holding that buffer.
//! - Received bytes per connection go through a token bucket ([`Config::recv_rate`],
//!   [`Config::recv_burst`]) using the `now` passed in; a peer over budget is disconnected.
//! - Sent but unwritten bytes per connection are capped by [`Config::max_unsent`]: the
//!   engine stops generating sync messages for that connection and resumes when the host
//!   reports written bytes with [`Event::Sent`]. Pending work is a set of document ids per
//!   session (bounded by the documents of the space), never a queue of messages.
//! - Sessions per connection are capped by [`Config::max_sessions`].
//! - `automerge::sync` rounds per document without progress are capped by
//!   [`Config::max_idle_rounds`] (guards against the known ping-pong cases); a document that
//!   hits the cap is reported with [`Effect::Stalled`] and resumes on its next change.
//!
//! Sync state is per connection: a new connection (a reconnect, a restart) starts every
//! document with a fresh `sync::State`.
//!
//! # In sync, and what it costs
//!
//! A session is in sync ([`SessionInfo::compared`] and no [`SessionInfo::pending`]) only once
//! the two sides compared the space (equal digests, or the peer's summary arrived), every
//! document either side lacked has arrived, and the peer acknowledged our heads for every
//! document we sent: a host can announce "in sync" on that without it ever being early.
//!
//! Two shortcuts keep a first sync from loading every document on the sending side: a peer
//! that lacks a document gets it as the host stored it ([`DocStore::saved`], the same
//! whole-document message automerge would build after loading and saving it), and an answer
//! that only acknowledges our current heads ([`DocStore::heads`]) updates the sync state as
//! `receive_sync_message` would, without the document. Both are checked against automerge
//! itself in this module's tests.

use std::collections::{BTreeMap, BTreeSet};

use automerge::sync::{self, Capability, Have, SyncDoc};
use automerge::{AutoCommit, ChangeHash};
use cohort_model::{DocId, SpaceId};

use crate::DeviceId;
use crate::protocol::{
    self, Frame, FrameError, HeadsDigest, MAX_CHANGE_BYTES, MAX_FRAME, PROTOCOL, RefuseReason,
    RootDigest,
};
use crate::replay;
pub use crate::sync_state::same_heads;
use crate::sync_state::take_flags;

/// A connection (one stream to one peer), numbered by the host. A device may have several
/// connections open at once; each has its own sessions and sync states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Milliseconds on the host's clock (any monotonic origin).
pub type Millis = u64;

/// The host's documents, as the engine sees them.
///
/// Every method is scoped by space: a store must return `None` for a document that exists
/// but belongs to another space, and must refuse to create an id that another space uses.
pub trait DocStore {
    /// Every document of `space` the host holds, with its current heads.
    fn space_heads(&mut self, space: SpaceId) -> Vec<(DocId, Vec<ChangeHash>)>;
    /// The document `doc` of `space`, if the host holds it.
    fn doc_mut(&mut self, space: SpaceId, doc: DocId) -> Option<&mut AutoCommit>;
    /// Creates an empty document `doc` in `space` (with the host's actor id), because a peer
    /// is sending it; `None` if the host refuses (the id belongs to another space, a quota).
    fn create_doc(&mut self, space: SpaceId, doc: DocId) -> Option<&mut AutoCommit>;
    /// The current heads of `doc` in `space`, if the host holds it. A host that can answer
    /// without loading the document (from an index) saves a load for every acknowledgement.
    fn heads(&mut self, space: SpaceId, doc: DocId) -> Option<Vec<ChangeHash>> {
        self.doc_mut(space, doc).map(|d| d.get_heads())
    }
    /// `doc` in `space` as bytes a fresh document loads (`load_incremental`: a saved
    /// document, optionally followed by change chunks) and its current heads. A host that
    /// keeps documents saved can answer without loading them: a peer that lacks a document
    /// gets it this way.
    fn saved(&mut self, space: SpaceId, doc: DocId) -> Option<(Vec<u8>, Vec<ChangeHash>)> {
        self.doc_mut(space, doc).map(|d| (d.save(), d.get_heads()))
    }
    /// Makes each of `docs` in `space` from bytes that a fresh document loads whole (a
    /// saved document, optionally followed by change chunks), because a peer sent them
    /// whole and this host lacks them (see [`fill_from`]): one outcome per document, `None`
    /// where the host refuses it (as for [`DocStore::create_doc`]). Bytes that load only in
    /// part are an error, so a host may keep them as the document's stored form instead of
    /// saving it again, and may load the documents in parallel.
    fn create_docs_from(
        &mut self,
        space: SpaceId,
        docs: Vec<(DocId, Vec<u8>)>,
    ) -> Vec<(DocId, Option<Result<(), automerge::AutomergeError>>)> {
        docs.into_iter()
            .map(|(doc, bytes)| {
                let made = self
                    .create_doc(space, doc)
                    .map(|target| fill_from(target, &bytes));
                (doc, made)
            })
            .collect()
    }

    /// Documents of `space` to send before the others, in this order, when several are due
    /// (those a peer needs first, such as the space's membership log, which admits a joining
    /// device): none by default.
    fn send_first(&mut self, _space: SpaceId) -> Vec<DocId> {
        Vec::new()
    }

    /// Keeps documents a peer sent whole, which this host lacks, as the bytes and heads they
    /// came with, without loading them now: one outcome per document, `false` where the
    /// host refuses it (as for [`DocStore::create_doc`]). A host that keeps a document
    /// reports those heads for it ([`DocStore::heads`], [`DocStore::space_heads`]) and
    /// makes it from the bytes before handing it out ([`DocStore::doc_mut`]); it must check
    /// later that the bytes load strictly ([`load_whole`]) to exactly those heads, and drop
    /// the document if they do not. `None` (the default): this host does not keep documents
    /// unloaded, and the engine makes them with [`DocStore::create_docs_from`].
    fn keep_whole(&mut self, _space: SpaceId, _docs: Vec<Whole>) -> Option<Vec<(DocId, bool)>> {
        None
    }
}

/// A document a peer sent whole: its id, the bytes (a saved document, optionally followed
/// by change chunks) and the heads the peer says they load to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whole {
    /// The document.
    pub doc: DocId,
    /// The bytes as sent.
    pub bytes: Vec<u8>,
    /// The heads the sender named (sorted).
    pub heads: Vec<ChangeHash>,
}

/// Makes `target` the document `bytes` hold: an empty one becomes it by a strict load
/// ([`load_whole`], keeping `target`'s actor); one that holds changes already merges them.
pub fn fill_from(target: &mut AutoCommit, bytes: &[u8]) -> Result<(), automerge::AutomergeError> {
    if !target.get_heads().is_empty() {
        return target.load_incremental(bytes).map(|_| ());
    }
    let actor = target.get_actor().clone();
    *target = load_whole(bytes)?.with_actor(actor);
    Ok(())
}

/// Loads `bytes` (a saved document, optionally followed by change chunks) into a new
/// document; any part that does not load is an error.
pub fn load_whole(bytes: &[u8]) -> Result<AutoCommit, automerge::AutomergeError> {
    AutoCommit::load_with_options(
        bytes,
        automerge::LoadOptions::new().on_partial_load(automerge::OnPartialLoad::Error),
    )
}

/// The host's membership view, as the engine sees it.
pub trait Authorizer {
    /// May `device` read `space`? `false` for spaces this host does not hold.
    fn may_read(&self, space: SpaceId, device: DeviceId) -> bool;
    /// May `device` change `space`? When `false` the engine does not apply its changes.
    fn may_write(&self, space: SpaceId, device: DeviceId) -> bool {
        self.may_read(space, device)
    }
    /// The spaces this host holds that `device` may read: the dialer offers these.
    fn shared_spaces(&self, device: DeviceId) -> Vec<SpaceId>;
    /// An admission request this host presents for `space` (it is not a member yet but
    /// holds an invite): the encoded redemption, sent in a `Redeem` frame instead of `Hello`.
    fn admission_request(&self, space: SpaceId) -> Option<Vec<u8>> {
        let _ = space;
        None
    }
}

/// Limits and batch sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Bytes handed to the host for a connection and not yet reported written; above this,
    /// no new sync messages are generated for it.
    pub max_unsent: usize,
    /// A `SyncBatch` frame is sent once it holds this many bytes.
    pub batch_target: usize,
    /// Sustained received bytes per second allowed per connection.
    pub recv_rate: u64,
    /// Received bytes allowed in a burst per connection.
    pub recv_burst: u64,
    /// Spaces one connection may open.
    pub max_sessions: usize,
    /// Sync messages generated for one document on one connection without either side's
    /// heads moving, before the engine gives up on it until its next change.
    pub max_idle_rounds: u32,
    /// How long a peer may leave a frame unfinished: a connection whose received bytes end
    /// inside a frame for longer than this is closed at the next [`Event::Tick`] (a peer
    /// cannot park up to [`MAX_FRAME`] bytes per connection here indefinitely).
    pub frame_timeout: Millis,
    /// `Hello`s and `Redeem`s one connection may have refused before it is closed: a peer
    /// probing for spaces (or making the host log refusals) gets this many answers per
    /// connection, not an unbounded stream of them.
    pub max_refusals: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_unsent: 2 * 1024 * 1024,
            batch_target: 256 * 1024,
            recv_rate: 16 * 1024 * 1024,
            recv_burst: 64 * 1024 * 1024,
            max_sessions: 256,
            max_idle_rounds: 24,
            frame_timeout: 30_000,
            max_refusals: 32,
        }
    }
}

/// Something that happened, told to the engine by the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A connection to the authenticated device `peer` is open. The `dialer` side opens
    /// sessions; the other side answers.
    Connected {
        /// The connection.
        conn: ConnId,
        /// The authenticated remote device.
        peer: DeviceId,
        /// Whether this host dialed.
        dialer: bool,
    },
    /// Bytes arrived on a connection (any split: the engine reassembles frames).
    Received {
        /// The connection.
        conn: ConnId,
        /// The bytes, in stream order.
        bytes: Vec<u8>,
    },
    /// The host wrote `bytes` bytes of this connection's outgoing frames to the transport.
    Sent {
        /// The connection.
        conn: ConnId,
        /// How many bytes were written.
        bytes: usize,
    },
    /// The connection closed (either side, any reason). Its sync states are dropped.
    Disconnected {
        /// The connection.
        conn: ConnId,
    },
    /// The host changed `doc` (a local edit, or changes imported another way).
    LocalChange {
        /// The document's space.
        space: SpaceId,
        /// The document.
        doc: DocId,
    },
    /// `device` was removed from `space`: its connections are closed now.
    Revoked {
        /// The space.
        space: SpaceId,
        /// The removed device.
        device: DeviceId,
    },
    /// Membership changed somewhere: dialed connections offer newly shared spaces, and
    /// connections holding a session the peer may no longer read are closed.
    MembershipChanged,
    /// Time passed (the host sends this periodically, say every second): connections
    /// holding an unfinished frame for longer than [`Config::frame_timeout`] are closed.
    Tick,
    /// The host's answer to an [`Effect::Admit`]: `Ok` if it admitted the peer (its
    /// membership view already says so), or why not. The engine answers the peer with
    /// `Welcome` (and starts syncing) or `Refused`.
    Admitted {
        /// The connection.
        conn: ConnId,
        /// The space.
        space: SpaceId,
        /// The outcome.
        result: Result<(), RefuseReason>,
    },
}

/// Why the engine closes a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// Bytes that are not a valid frame (or an oversized one).
    Malformed(FrameError),
    /// A valid frame at the wrong time (e.g. a frame for a space without a session).
    Violation(&'static str),
    /// A frame for a space the peer may not (or may no longer) read.
    Unauthorized,
    /// An `automerge::sync` message that does not decode or whose changes do not apply.
    BadSyncMessage(String),
    /// More bytes than the receive budget allows.
    RateLimited,
    /// The peer was removed from a space it had a session for.
    Revoked,
    /// The peer began a frame and did not finish it within [`Config::frame_timeout`].
    FrameStalled,
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DisconnectReason::Malformed(e) => write!(f, "malformed frame ({e})"),
            DisconnectReason::Violation(what) => write!(f, "protocol violation ({what})"),
            DisconnectReason::Unauthorized => {
                f.write_str("a frame for a space the peer may not read")
            }
            DisconnectReason::BadSyncMessage(e) => write!(f, "bad sync message ({e})"),
            DisconnectReason::RateLimited => f.write_str("sent more than its receive budget"),
            DisconnectReason::Revoked => f.write_str("removed from a space it was syncing"),
            DisconnectReason::FrameStalled => f.write_str("left a frame unfinished"),
        }
    }
}

/// Why a document stopped syncing on a connection (until its next change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StallReason {
    /// [`Config::max_idle_rounds`] messages without progress.
    TooManyRounds,
    /// The next sync message would exceed [`MAX_CHANGE_BYTES`].
    MessageTooLarge,
}

/// Something the host must do (or may want to know).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Write these bytes (whole frames) to the connection, in order. Report them written
    /// with [`Event::Sent`].
    Send {
        /// The connection.
        conn: ConnId,
        /// Its device.
        peer: DeviceId,
        /// One or more encoded frames.
        bytes: Vec<u8>,
    },
    /// Close the connection. The engine has already forgotten it.
    Disconnect {
        /// The connection.
        conn: ConnId,
        /// Its device.
        peer: DeviceId,
        /// Why.
        reason: DisconnectReason,
    },
    /// Changes from a peer were merged into `doc`: persist `doc.save_after(&since)`. All
    /// `Persist` effects of one `handle` call come first in its effects (before any
    /// `Send`) and can go into one transaction.
    Persist {
        /// The space.
        space: SpaceId,
        /// The document.
        doc: DocId,
        /// The document's heads before the merge.
        since: Vec<ChangeHash>,
    },
    /// `doc` changed because of a peer (for views and search indexes).
    Changed {
        /// The space.
        space: SpaceId,
        /// The document.
        doc: DocId,
    },
    /// A peer that is not a member asks to be admitted to `space` with `request` (from a
    /// `Redeem` frame). The host checks it, records the admission if valid, and answers with
    /// [`Event::Admitted`]; until then the session waits.
    Admit {
        /// The connection.
        conn: ConnId,
        /// Its (authenticated) device.
        peer: DeviceId,
        /// The space.
        space: SpaceId,
        /// The admission request, as the peer sent it.
        request: Vec<u8>,
    },
    /// We refused the peer's `Hello` or `Redeem` for `space` (the `Refused` frame is in a
    /// `Send` effect of the same call). Informational, for logs: the peer may be probing.
    RefusedPeer {
        /// The connection.
        conn: ConnId,
        /// Its device.
        peer: DeviceId,
        /// The space it asked for (possibly one this host does not hold).
        space: SpaceId,
        /// What it was told.
        reason: RefuseReason,
    },
    /// The peer refused our session for `space`.
    Refused {
        /// The connection.
        conn: ConnId,
        /// Its device.
        peer: DeviceId,
        /// The space.
        space: SpaceId,
        /// Its reason.
        reason: RefuseReason,
    },
    /// A document stopped syncing on this connection until its next change.
    Stalled {
        /// The connection.
        conn: ConnId,
        /// The space.
        space: SpaceId,
        /// The document.
        doc: DocId,
        /// Why.
        reason: StallReason,
    },
}

/// Counters since the engine was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames handed to the host.
    pub frames_sent: u64,
    /// Bytes of those frames.
    pub bytes_sent: u64,
    /// Bytes of the `automerge::sync` messages inside them.
    pub sync_bytes_sent: u64,
    /// Sync messages sent.
    pub sync_messages_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
}

/// One session, as status displays see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The connection.
    pub conn: ConnId,
    /// Its device.
    pub peer: DeviceId,
    /// The space.
    pub space: SpaceId,
    /// Whether both sides authorized it (otherwise it waits for an answer or an admission).
    pub active: bool,
    /// Documents of the space still exchanging changes on this session (not stalled),
    /// including those the peer's summary lists that have not arrived yet.
    pub pending: usize,
    /// Whether the two sides have compared the space (equal digests, or a summary
    /// received). Until then `pending` says nothing: a session is only in sync once compared
    /// and nothing is pending.
    pub compared: bool,
}

/// Bytes of the frames about one space, both ways, since the engine was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpaceBytes {
    /// Bytes of frames handed to the host for this space.
    pub sent: u64,
    /// Bytes of well-formed frames received for this space.
    pub received: u64,
}

/// Most documents a session waits for from the peer's summary (only for status: beyond this,
/// a session may say it is in sync while documents are still arriving).
const MAX_EXPECTED: usize = 1 << 18;

/// The sync engine of one device. See the [module docs](self).
#[derive(Debug)]
pub struct Engine {
    config: Config,
    conns: BTreeMap<ConnId, Conn>,
    stats: Stats,
    space_bytes: BTreeMap<SpaceId, SpaceBytes>,
}

#[derive(Debug)]
struct Conn {
    peer: DeviceId,
    dialer: bool,
    inbuf: Vec<u8>,
    /// When `inbuf` last began holding an unfinished frame (`None` while it is empty).
    partial_since: Option<Millis>,
    /// Sessions the peer asked for and was refused on this connection.
    refusals: u32,
    /// Whether the peer's small changes are taken by replaying them ([`crate::replay`]);
    /// off after one replayed to another hash than its own.
    replay: bool,
    unsent: usize,
    bucket: TokenBucket,
    sessions: BTreeMap<SpaceId, Session>,
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    /// We sent `Hello` (or `Redeem`) and wait for the answer.
    Offered,
    /// The peer sent `Redeem`; the host is deciding (see [`Effect::Admit`]).
    Admitting,
    /// Authorized both ways.
    Active,
}

#[derive(Debug)]
struct Session {
    phase: Phase,
    summary_sent: bool,
    /// The peer's digest matched ours, or its summary arrived.
    compared: bool,
    /// The root digest we sent (a peer whose digest equals it needs no summary; our own
    /// changes since then reach it as live changes).
    sent_root: Option<RootDigest>,
    /// Documents the peer's summary lists that we do not hold, until its first message
    /// about each arrives (at most [`MAX_EXPECTED`]).
    expected: BTreeSet<DocId>,
    docs: BTreeMap<DocId, DocSync>,
    /// Documents whose sync message must be (re)generated.
    dirty: BTreeSet<DocId>,
}

#[derive(Debug)]
struct DocSync {
    state: sync::State,
    idle_rounds: u32,
    stalled: bool,
    /// The heads of a document received whole and kept unloaded ([`DocStore::keep_whole`]),
    /// until its acknowledgement is sent: made from `state` and these heads alone.
    kept: Option<Vec<ChangeHash>>,
}

#[derive(Debug)]
struct TokenBucket {
    tokens: u64,
    last: Millis,
}

impl TokenBucket {
    fn take(&mut self, now: Millis, n: u64, rate: u64, burst: u64) -> bool {
        let elapsed = now.saturating_sub(self.last);
        self.last = self.last.max(now);
        let refill = elapsed.saturating_mul(rate) / 1000;
        self.tokens = self.tokens.saturating_add(refill).min(burst);
        if n > self.tokens {
            return false;
        }
        self.tokens -= n;
        true
    }
}

impl Session {
    fn new(phase: Phase) -> Self {
        Session {
            phase,
            summary_sent: false,
            compared: false,
            sent_root: None,
            expected: BTreeSet::new(),
            docs: BTreeMap::new(),
            dirty: BTreeSet::new(),
        }
    }

    /// Marks `doc` for a new sync message after progress (a change on either side).
    fn progress(&mut self, doc: DocId, read_only: bool) {
        let entry = self
            .docs
            .entry(doc)
            .or_insert_with(|| DocSync::fresh(read_only));
        entry.idle_rounds = 0;
        entry.stalled = false;
        self.dirty.insert(doc);
    }
}

impl DocSync {
    fn fresh(read_only: bool) -> Self {
        DocSync {
            state: if read_only {
                sync::State::new_read_only()
            } else {
                sync::State::new()
            },
            idle_rounds: 0,
            stalled: false,
            kept: None,
        }
    }

    /// A state for a document the peer's summary says it does not hold: as if the peer had
    /// already said "my heads are empty, I have nothing", so the first message carries the
    /// whole document and the usual empty round trip is skipped.
    fn peer_lacks_it(read_only: bool) -> Self {
        let mut s = Self::fresh(read_only);
        s.state.their_heads = Some(Vec::new());
        s.state.their_need = Some(Vec::new());
        s.state.their_have = Some(vec![Have::default()]);
        s.state.their_capabilities = Some(vec![Capability::MessageV2, Capability::SyncReset]);
        s
    }
}

/// Whether automerge would answer a peer in `state` with the whole document: it said it has
/// nothing (or its summary did), understands whole-document messages, and we have not sent
/// it anything yet.
fn sends_whole_doc(state: &sync::State) -> bool {
    state.their_heads.as_deref() == Some(&[])
        && state
            .their_capabilities
            .as_ref()
            .is_some_and(|c| c.contains(&Capability::MessageV2))
        && !state.have_responded
        && !state.in_flight
        && !state.needs_reset
        && !state.is_peer_read_only()
}

/// The message `generate_sync_message` makes for [`sends_whole_doc`] (a V2 message carrying
/// the document), from the document as stored, with the same effect on `state`. It omits
/// the bloom filter of our changes: a peer with nothing has nothing of its own to hold back.
fn whole_doc_message(
    state: &mut sync::State,
    saved: Vec<u8>,
    heads: Vec<ChangeHash>,
) -> sync::Message {
    let mut flags = sync::MessageFlags::new();
    flags.set(sync::MessageFlags::SUPPORTS_SYNC_RESET);
    if state.read_only {
        flags.set(sync::MessageFlags::READ_ONLY);
    }
    state.have_responded = true;
    state.last_sent_heads.clone_from(&heads);
    state.in_flight = true;
    sync::Message {
        heads,
        need: Vec::new(),
        have: Vec::new(),
        changes: sync::ChunkList::from(saved),
        flags: Some(flags),
        version: sync::MessageVersion::V2,
    }
}

/// What `receive_sync_message` does to a fresh `state` for `msg` (carrying a whole
/// document) received into an empty document, for `doc` already loaded from `msg`'s changes
/// (see [`DocStore::create_docs_from`]): the message without its changes is received, with
/// the shared heads automerge would have advanced to and the last sent heads kept, so the
/// next message acknowledges the document.
fn receive_loaded_whole(
    doc: &mut AutoCommit,
    state: &mut sync::State,
    msg: sync::Message,
) -> Result<(), automerge::AutomergeError> {
    // automerge advances the shared heads to the document's new heads (plus old shared
    // heads that are still heads: none, from an empty document).
    let mut heads = doc.get_heads();
    heads.sort_unstable();
    heads.dedup();
    let last_sent = std::mem::take(&mut state.last_sent_heads);
    state.shared_heads = heads;
    let rest = sync::Message {
        changes: sync::ChunkList::empty(),
        ..msg
    };
    let result = doc.sync().receive_sync_message(state, rest);
    state.last_sent_heads = last_sent;
    result
}

/// Whether a whole document in `msg` can be kept unloaded: it carries changes and heads and
/// neither needs nor claims anything (`have` is empty, as in [`whole_doc_message`]), so
/// what automerge would do with it depends only on its heads.
fn keepable_whole(msg: &sync::Message) -> bool {
    !msg.changes.is_empty() && !msg.heads.is_empty() && msg.need.is_empty() && msg.have.is_empty()
}

/// What `receive_sync_message` does to a fresh writable `state` for a [`keepable_whole`]
/// `msg` received into an empty document, which then holds exactly `msg.heads`: taken
/// without the document.
fn receive_kept_whole(state: &mut sync::State, msg: sync::Message) {
    state.in_flight = false;
    take_flags(state, msg.flags);
    state.shared_heads.clone_from(&msg.heads);
    state.their_have = Some(msg.have);
    state.their_heads = Some(msg.heads);
    state.their_need = Some(msg.need);
}

/// What `generate_sync_message` answers right after [`receive_kept_whole`], for a document
/// whose heads are `heads` (the message's): the acknowledgement, with the same effect on
/// `state`. The document holds every change the peer named and nothing more, so it needs
/// nothing and has no change of its own to offer (an empty bloom filter).
fn kept_ack(state: &mut sync::State, mut heads: Vec<ChangeHash>) -> sync::Message {
    heads.sort_unstable();
    heads.dedup();
    let mut flags = sync::MessageFlags::new();
    flags.set(sync::MessageFlags::SUPPORTS_SYNC_RESET);
    if state.read_only {
        flags.set(sync::MessageFlags::READ_ONLY);
    }
    let version = if state
        .their_capabilities
        .as_ref()
        .is_some_and(|c| c.contains(&Capability::MessageV2))
    {
        sync::MessageVersion::V2
    } else {
        sync::MessageVersion::V1
    };
    let have = Have {
        last_sync: state.shared_heads.clone(),
        bloom: sync::BloomFilter::default(),
    };
    state.have_responded = true;
    state.last_sent_heads.clone_from(&heads);
    state.in_flight = true;
    sync::Message {
        heads,
        need: Vec::new(),
        have: vec![have],
        changes: sync::ChunkList::empty(),
        flags: Some(flags),
        version,
    }
}

/// Whether `msg` only acknowledges what we last sent (no changes, nothing needed, its heads
/// are the heads we last sent, its `have` starts from them) and does not ask for a reset.
/// The caller also checks that those heads are still our current heads.
fn is_plain_ack(state: &sync::State, msg: &sync::Message) -> bool {
    msg.changes.is_empty()
        && msg.need.is_empty()
        && !msg.heads.is_empty()
        && state.have_responded
        && !state.needs_reset
        && same_heads(&state.last_sent_heads, &msg.heads)
        && msg
            .have
            .iter()
            .all(|h| h.last_sync.iter().all(|x| msg.heads.contains(x)))
        && !msg
            .flags
            .is_some_and(|f| f.contains(sync::MessageFlags::SYNC_RESET))
}

/// What `receive_sync_message` does to `state` for a [`is_plain_ack`] message whose heads
/// are our current heads: the peer holds everything we have, so nothing we sent is still
/// unseen, and the next `generate_sync_message` would say nothing.
fn take_plain_ack(state: &mut sync::State, msg: sync::Message) {
    state.in_flight = false;
    take_flags(state, msg.flags);
    state.sent_hashes.clear();
    state.last_sent_heads.clone_from(&msg.heads);
    state.shared_heads.clone_from(&msg.heads);
    state.their_have = Some(msg.have);
    state.their_heads = Some(msg.heads);
    state.their_need = Some(msg.need);
}

/// The digest of one document's heads (sorted before hashing).
pub fn heads_digest(heads: &[ChangeHash]) -> HeadsDigest {
    let mut sorted = heads.to_vec();
    sorted.sort_unstable();
    let mut h = blake3::Hasher::new();
    for head in &sorted {
        h.update(&head.0);
    }
    let mut out = [0u8; 8];
    out.copy_from_slice(&h.finalize().as_bytes()[..8]);
    out
}

/// A space's summary: its documents sorted by id with their heads digests, and the root
/// digest over that list.
fn space_summary(
    store: &mut dyn DocStore,
    space: SpaceId,
) -> (Vec<(DocId, HeadsDigest)>, RootDigest) {
    let mut docs: Vec<(DocId, HeadsDigest)> = store
        .space_heads(space)
        .iter()
        .map(|(doc, heads)| (*doc, heads_digest(heads)))
        .collect();
    docs.sort_unstable_by_key(|(doc, _)| *doc);
    docs.dedup_by_key(|(doc, _)| *doc);
    let mut h = blake3::Hasher::new();
    for (doc, digest) in &docs {
        h.update(doc.as_bytes());
        h.update(digest);
    }
    let mut root = [0u8; 16];
    root.copy_from_slice(&h.finalize().as_bytes()[..16]);
    (docs, root)
}

/// What one `handle` call accumulates besides effects.
#[derive(Default)]
struct Pending {
    effects: Vec<Effect>,
    /// Docs merged from a peer in this call: the heads before the first merge.
    persisted: BTreeMap<(SpaceId, DocId), Vec<ChangeHash>>,
    /// (space, doc) changed by a peer: other sessions of the space must push them.
    changed: BTreeSet<(SpaceId, DocId)>,
    /// Bytes of frames sent per space in this call.
    sent: BTreeMap<SpaceId, u64>,
}

impl Pending {
    fn send(&mut self, stats: &mut Stats, conn: ConnId, c: &mut Conn, frame: &Frame) {
        let bytes = protocol::encode_frame(frame);
        stats.frames_sent += 1;
        stats.bytes_sent += bytes.len() as u64;
        *self.sent.entry(frame.space()).or_default() += bytes.len() as u64;
        c.unsent += bytes.len();
        self.effects.push(Effect::Send {
            conn,
            peer: c.peer,
            bytes,
        });
    }
}

impl Engine {
    /// An engine with no connections.
    pub fn new(config: Config) -> Self {
        Engine {
            config,
            conns: BTreeMap::new(),
            stats: Stats::default(),
            space_bytes: BTreeMap::new(),
        }
    }

    /// Counters since creation.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Bytes of the frames about `space`, both ways, since creation.
    pub fn space_bytes(&self, space: SpaceId) -> SpaceBytes {
        self.space_bytes.get(&space).copied().unwrap_or_default()
    }

    /// The open connections and their devices.
    pub fn connections(&self) -> impl Iterator<Item = (ConnId, DeviceId)> + '_ {
        self.conns.iter().map(|(id, c)| (*id, c.peer))
    }

    /// Every session on every connection, with how many documents are still in flight.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        let mut out = Vec::new();
        for (conn, c) in &self.conns {
            for (space, s) in &c.sessions {
                let pending = s
                    .docs
                    .iter()
                    .filter(|(doc, d)| {
                        // In flight until the peer's last word says it holds what we
                        // last sent (its heads equal ours when we last spoke).
                        !d.stalled
                            && (s.dirty.contains(*doc)
                                || d.state.their_heads.as_ref() != Some(&d.state.last_sent_heads))
                    })
                    .count()
                    + s.expected.len();
                out.push(SessionInfo {
                    conn: *conn,
                    peer: c.peer,
                    space: *space,
                    active: s.phase == Phase::Active,
                    pending,
                    compared: s.compared,
                });
            }
        }
        out
    }

    /// Whether any session still has sync messages to generate (for example, waiting for
    /// [`Event::Sent`] to free its outbound budget).
    pub fn has_pending_work(&self) -> bool {
        self.conns
            .values()
            .any(|c| c.sessions.values().any(|s| !s.dirty.is_empty()))
    }

    /// Handles one event at time `now`, returning what the host must do, in order.
    pub fn handle(
        &mut self,
        now: Millis,
        event: Event,
        store: &mut dyn DocStore,
        auth: &dyn Authorizer,
    ) -> Vec<Effect> {
        let mut p = Pending::default();
        match event {
            Event::Connected { conn, peer, dialer } => {
                let mut c = Conn {
                    peer,
                    dialer,
                    inbuf: Vec::new(),
                    partial_since: None,
                    refusals: 0,
                    replay: true,
                    unsent: 0,
                    bucket: TokenBucket {
                        tokens: self.config.recv_burst,
                        last: now,
                    },
                    sessions: BTreeMap::new(),
                };
                if dialer {
                    self.offer_spaces(conn, &mut c, auth, &mut p);
                } else {
                    self.offer_redemptions(conn, &mut c, auth, &mut p);
                }
                self.conns.insert(conn, c);
            }
            Event::Received { conn, bytes } => {
                self.received(now, conn, &bytes, store, auth, &mut p)
            }
            Event::Sent { conn, bytes } => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.unsent = c.unsent.saturating_sub(bytes);
                }
            }
            Event::Disconnected { conn } => {
                self.conns.remove(&conn);
            }
            Event::LocalChange { space, doc } => {
                p.changed.insert((space, doc));
            }
            Event::Revoked { space, device } => {
                let doomed: Vec<ConnId> = self
                    .conns
                    .iter()
                    .filter(|(_, c)| c.peer == device && c.sessions.contains_key(&space))
                    .map(|(id, _)| *id)
                    .collect();
                for conn in doomed {
                    self.disconnect(conn, DisconnectReason::Revoked, &mut p);
                }
            }
            Event::Admitted {
                conn,
                space,
                result,
            } => self.admitted(conn, space, result, store, auth, &mut p),
            Event::Tick => {
                let timeout = self.config.frame_timeout;
                let stalled: Vec<ConnId> = self
                    .conns
                    .iter()
                    .filter(|(_, c)| {
                        c.partial_since
                            .is_some_and(|t| now.saturating_sub(t) > timeout)
                    })
                    .map(|(id, _)| *id)
                    .collect();
                for conn in stalled {
                    self.disconnect(conn, DisconnectReason::FrameStalled, &mut p);
                }
            }
            Event::MembershipChanged => {
                let ids: Vec<ConnId> = self.conns.keys().copied().collect();
                for conn in ids {
                    let Some(mut c) = self.conns.remove(&conn) else {
                        continue;
                    };
                    let revoked = c.sessions.iter().any(|(space, s)| {
                        s.phase == Phase::Active && !auth.may_read(*space, c.peer)
                    });
                    if revoked {
                        p.effects.push(Effect::Disconnect {
                            conn,
                            peer: c.peer,
                            reason: DisconnectReason::Revoked,
                        });
                        continue;
                    }
                    if c.dialer {
                        self.offer_spaces(conn, &mut c, auth, &mut p);
                    } else {
                        self.offer_redemptions(conn, &mut c, auth, &mut p);
                    }
                    self.conns.insert(conn, c);
                }
            }
        }
        self.spread_changes(auth, &mut p);
        self.flush(store, &mut p);
        // Persist first: a host that runs effects in order has merged changes on disk
        // before it sends the messages that tell the peer we have them.
        let mut effects = Vec::with_capacity(p.persisted.len() * 2 + p.effects.len());
        for ((space, doc), since) in std::mem::take(&mut p.persisted) {
            effects.push(Effect::Persist { space, doc, since });
            effects.push(Effect::Changed { space, doc });
        }
        effects.append(&mut p.effects);
        for (space, n) in p.sent {
            self.space_bytes.entry(space).or_default().sent += n;
        }
        effects
    }

    fn offer_spaces(&mut self, conn: ConnId, c: &mut Conn, auth: &dyn Authorizer, p: &mut Pending) {
        for space in auth.shared_spaces(c.peer) {
            if c.sessions.len() >= self.config.max_sessions {
                break;
            }
            if c.sessions.contains_key(&space) || !auth.may_read(space, c.peer) {
                continue;
            }
            c.sessions.insert(space, Session::new(Phase::Offered));
            let frame = match auth.admission_request(space) {
                Some(request) => Frame::Redeem {
                    space,
                    protocol: PROTOCOL,
                    request,
                },
                None => Frame::Hello {
                    space,
                    protocol: PROTOCOL,
                },
            };
            p.send(&mut self.stats, conn, c, &frame);
        }
    }

    /// On a connection this host did not dial, it opens no sessions, except to ask to be
    /// admitted: a joiner must present its redemption whichever side dialed.
    fn offer_redemptions(
        &mut self,
        conn: ConnId,
        c: &mut Conn,
        auth: &dyn Authorizer,
        p: &mut Pending,
    ) {
        for space in auth.shared_spaces(c.peer) {
            if c.sessions.len() >= self.config.max_sessions {
                break;
            }
            if c.sessions.contains_key(&space) {
                continue;
            }
            if let Some(request) = auth.admission_request(space) {
                c.sessions.insert(space, Session::new(Phase::Offered));
                p.send(
                    &mut self.stats,
                    conn,
                    c,
                    &Frame::Redeem {
                        space,
                        protocol: PROTOCOL,
                        request,
                    },
                );
            }
        }
    }

    /// Why a `Hello` or `Redeem` cannot open a session on this connection, membership aside.
    fn session_refusal(&self, c: &Conn, protocol: u32) -> Option<RefuseReason> {
        if protocol != PROTOCOL {
            Some(RefuseReason::UnsupportedProtocol)
        } else if c.sessions.len() >= self.config.max_sessions {
            Some(RefuseReason::TooManySessions)
        } else {
            None
        }
    }

    /// Opens (or activates) the session for `space` and answers `Welcome` and our digest.
    fn welcome(
        &mut self,
        conn: ConnId,
        c: &mut Conn,
        space: SpaceId,
        store: &mut dyn DocStore,
        p: &mut Pending,
    ) {
        c.sessions
            .entry(space)
            .or_insert_with(|| Session::new(Phase::Active))
            .phase = Phase::Active;
        p.send(&mut self.stats, conn, c, &Frame::Welcome { space });
        self.send_digest(conn, c, space, store, p);
    }

    /// Answers the peer's `Hello` or `Redeem` for `space` with `Refused`, and tells the host;
    /// `Err` (close the connection) once the peer has been refused more than
    /// [`Config::max_refusals`] times on it.
    fn refuse(
        &mut self,
        conn: ConnId,
        c: &mut Conn,
        space: SpaceId,
        reason: RefuseReason,
        p: &mut Pending,
    ) -> Result<(), DisconnectReason> {
        c.refusals = c.refusals.saturating_add(1);
        if c.refusals > self.config.max_refusals {
            return Err(DisconnectReason::Violation("too many refused requests"));
        }
        p.send(&mut self.stats, conn, c, &Frame::Refused { space, reason });
        p.effects.push(Effect::RefusedPeer {
            conn,
            peer: c.peer,
            space,
            reason,
        });
        Ok(())
    }

    /// The host decided on a peer's `Redeem`.
    fn admitted(
        &mut self,
        conn: ConnId,
        space: SpaceId,
        result: Result<(), RefuseReason>,
        store: &mut dyn DocStore,
        auth: &dyn Authorizer,
        p: &mut Pending,
    ) {
        let Some(mut c) = self.conns.remove(&conn) else {
            return;
        };
        if c.sessions.get(&space).map(|s| &s.phase) == Some(&Phase::Admitting) {
            let outcome = match result {
                Ok(()) if auth.may_read(space, c.peer) => Ok(()),
                Ok(()) => Err(RefuseReason::NotAuthorized),
                Err(reason) => Err(reason),
            };
            match outcome {
                Ok(()) => {
                    self.welcome(conn, &mut c, space, store, p);
                }
                Err(reason) => {
                    c.sessions.remove(&space);
                    if let Err(too_many) = self.refuse(conn, &mut c, space, reason, p) {
                        p.effects.push(Effect::Disconnect {
                            conn,
                            peer: c.peer,
                            reason: too_many,
                        });
                        return;
                    }
                }
            }
        }
        self.conns.insert(conn, c);
    }

    fn disconnect(&mut self, conn: ConnId, reason: DisconnectReason, p: &mut Pending) {
        if let Some(c) = self.conns.remove(&conn) {
            p.effects.push(Effect::Disconnect {
                conn,
                peer: c.peer,
                reason,
            });
        }
    }

    fn received(
        &mut self,
        now: Millis,
        conn: ConnId,
        bytes: &[u8],
        store: &mut dyn DocStore,
        auth: &dyn Authorizer,
        p: &mut Pending,
    ) {
        let Some(mut c) = self.conns.remove(&conn) else {
            return;
        };
        self.stats.bytes_received += bytes.len() as u64;
        if !c.bucket.take(
            now,
            bytes.len() as u64,
            self.config.recv_rate,
            self.config.recv_burst,
        ) {
            p.effects.push(Effect::Disconnect {
                conn,
                peer: c.peer,
                reason: DisconnectReason::RateLimited,
            });
            return;
        }
        c.inbuf.extend_from_slice(bytes);
        let mut pos = 0;
        let result = loop {
            let rest = c.inbuf.get(pos..).unwrap_or_default();
            match protocol::decode_frame(rest) {
                Ok((frame, used)) => {
                    pos += used;
                    self.space_bytes.entry(frame.space()).or_default().received += used as u64;
                    if let Err(reason) = self.frame(conn, &mut c, frame, store, auth, p) {
                        break Err(reason);
                    }
                }
                Err(FrameError::Incomplete { .. }) => break Ok(()),
                Err(e) => break Err(DisconnectReason::Malformed(e)),
            }
        };
        match result {
            Ok(()) => {
                c.inbuf.drain(..pos);
                if c.inbuf.is_empty() {
                    c.partial_since = None;
                } else if pos > 0 || c.partial_since.is_none() {
                    // A new unfinished frame (the previous one, if any, completed).
                    c.partial_since = Some(now);
                }
                debug_assert!(c.inbuf.len() < MAX_FRAME + protocol::LEN_BYTES);
                self.conns.insert(conn, c);
            }
            Err(reason) => p.effects.push(Effect::Disconnect {
                conn,
                peer: c.peer,
                reason,
            }),
        }
    }

    /// Handles one decoded frame; `Err` closes the connection.
    fn frame(
        &mut self,
        conn: ConnId,
        c: &mut Conn,
        frame: Frame,
        store: &mut dyn DocStore,
        auth: &dyn Authorizer,
        p: &mut Pending,
    ) -> Result<(), DisconnectReason> {
        let space = frame.space();
        let peer = c.peer;
        match frame {
            Frame::Hello { protocol, .. } => {
                if c.dialer {
                    return Err(DisconnectReason::Violation("hello sent to the dialer"));
                }
                if c.sessions.contains_key(&space) {
                    return Err(DisconnectReason::Violation("second hello for a space"));
                }
                let refusal = (!auth.may_read(space, peer)).then_some(RefuseReason::NotAuthorized);
                if let Some(reason) = refusal.or_else(|| self.session_refusal(c, protocol)) {
                    return self.refuse(conn, c, space, reason, p);
                }
                self.welcome(conn, c, space, store, p);
            }
            Frame::Redeem {
                protocol, request, ..
            } => {
                // Either side may ask to be admitted (see `offer_redemptions`).
                if c.sessions.contains_key(&space) {
                    return Err(DisconnectReason::Violation("second hello for a space"));
                }
                if let Some(reason) = self.session_refusal(c, protocol) {
                    return self.refuse(conn, c, space, reason, p);
                }
                if auth.may_read(space, peer) {
                    // Already a member (admitted through another peer): as for `Hello`.
                    self.welcome(conn, c, space, store, p);
                    return Ok(());
                }
                c.sessions.insert(space, Session::new(Phase::Admitting));
                p.effects.push(Effect::Admit {
                    conn,
                    peer,
                    space,
                    request,
                });
            }
            Frame::Welcome { .. } => {
                match c.sessions.get_mut(&space) {
                    Some(s) if s.phase == Phase::Offered => {
                        if !auth.may_read(space, peer) {
                            // Lost access since we offered: say nothing more.
                            c.sessions.remove(&space);
                            return Ok(());
                        }
                        s.phase = Phase::Active;
                    }
                    _ => return Err(DisconnectReason::Violation("welcome without hello")),
                }
                self.send_digest(conn, c, space, store, p);
            }
            Frame::Refused { reason, .. } => match c.sessions.get(&space) {
                Some(s) if s.phase == Phase::Offered => {
                    c.sessions.remove(&space);
                    p.effects.push(Effect::Refused {
                        conn,
                        peer,
                        space,
                        reason,
                    });
                }
                _ => return Err(DisconnectReason::Violation("refusal without hello")),
            },
            Frame::Digest { root, .. } => {
                Self::active(c, space, auth)?;
                let sent = c.sessions.get(&space).and_then(|s| s.sent_root);
                let differs = sent != Some(root) && {
                    let (docs, ours) = space_summary(store, space);
                    let differs = ours != root;
                    if differs {
                        self.send_summary(conn, c, space, docs, p);
                    }
                    differs
                };
                if !differs && let Some(s) = c.sessions.get_mut(&space) {
                    s.compared = true;
                }
            }
            Frame::Summary { docs: theirs, .. } => {
                Self::active(c, space, auth)?;
                let (ours, _) = space_summary(store, space);
                let read_only = !auth.may_write(space, peer);
                let theirs: BTreeMap<DocId, HeadsDigest> = theirs.into_iter().collect();
                if let Some(s) = c.sessions.get_mut(&space) {
                    s.compared = true;
                    for (doc, digest) in &ours {
                        if s.docs.contains_key(doc) {
                            s.dirty.insert(*doc);
                            continue;
                        }
                        match theirs.get(doc) {
                            Some(d) if d == digest => {}
                            Some(_) => {
                                s.docs.insert(*doc, DocSync::fresh(read_only));
                                s.dirty.insert(*doc);
                            }
                            None => {
                                s.docs.insert(*doc, DocSync::peer_lacks_it(read_only));
                                s.dirty.insert(*doc);
                            }
                        }
                    }
                    // Documents only the peer holds: it pushes them (it has our summary);
                    // until each arrives the session is not in sync.
                    let held: BTreeSet<DocId> = ours.iter().map(|(doc, _)| *doc).collect();
                    for doc in theirs.keys() {
                        if s.expected.len() >= MAX_EXPECTED {
                            break;
                        }
                        if !held.contains(doc) && !s.docs.contains_key(doc) {
                            s.expected.insert(*doc);
                        }
                    }
                }
                self.send_summary(conn, c, space, ours, p);
            }
            Frame::SyncBatch { messages, .. } => {
                Self::active(c, space, auth)?;
                let read_only = !auth.may_write(space, peer);
                let Some(s) = c.sessions.get_mut(&space) else {
                    return Err(DisconnectReason::Violation("no session"));
                };
                let decoded = messages
                    .into_iter()
                    .map(|(doc, bytes)| Ok((doc, sync::Message::decode(&bytes)?)))
                    .collect::<Result<Vec<_>, sync::ReadMessageError>>()
                    .map_err(|e| DisconnectReason::BadSyncMessage(e.to_string()))?;
                // Documents this host lacks, sent whole: made in one strict load of the
                // sender's bytes each (which the host may store as they are, and may load
                // in parallel), before the messages are taken in order.
                let pristine = DocSync::fresh(read_only).state;
                let mut whole: Vec<(DocId, Vec<u8>)> = Vec::new();
                let mut keepable: Vec<Whole> = Vec::new();
                if !read_only {
                    let mut seen = BTreeSet::new();
                    for (doc_id, msg) in &decoded {
                        if seen.insert(*doc_id)
                            && !msg.changes.is_empty()
                            && msg.need.is_empty()
                            && s.docs.get(doc_id).is_none_or(|e| e.state == pristine)
                            && store.heads(space, *doc_id).is_none()
                        {
                            let bytes = msg.changes.iter().flatten().copied().collect();
                            if keepable_whole(msg) {
                                let mut heads = msg.heads.clone();
                                heads.sort_unstable();
                                heads.dedup();
                                keepable.push(Whole {
                                    doc: *doc_id,
                                    bytes,
                                    heads,
                                });
                            } else {
                                whole.push((*doc_id, bytes));
                            }
                        }
                    }
                }
                // A host that keeps whole documents unloaded takes them as they are; one
                // that does not makes them with the rest.
                let mut kept: BTreeMap<DocId, bool> = BTreeMap::new();
                if !keepable.is_empty() {
                    let back: Vec<(DocId, Vec<u8>)> =
                        keepable.iter().map(|w| (w.doc, w.bytes.clone())).collect();
                    match store.keep_whole(space, keepable) {
                        Some(outcomes) => kept.extend(outcomes),
                        None => whole.extend(back),
                    }
                }
                let mut made: BTreeMap<DocId, Option<Result<(), automerge::AutomergeError>>> =
                    if whole.is_empty() {
                        BTreeMap::new()
                    } else {
                        store.create_docs_from(space, whole).into_iter().collect()
                    };
                for (doc_id, msg) in decoded {
                    s.expected.remove(&doc_id);
                    match kept.remove(&doc_id) {
                        None => {}
                        // Refused by the host.
                        Some(false) => continue,
                        Some(true) => {
                            let entry = s
                                .docs
                                .entry(doc_id)
                                .or_insert_with(|| DocSync::fresh(read_only));
                            entry.kept = Some(msg.heads.clone());
                            receive_kept_whole(&mut entry.state, msg);
                            entry.idle_rounds = 0;
                            entry.stalled = false;
                            p.persisted.entry((space, doc_id)).or_default();
                            p.changed.insert((space, doc_id));
                            s.dirty.insert(doc_id);
                            continue;
                        }
                    }
                    if let Some(entry) = s.docs.get_mut(&doc_id) {
                        // Any other message for it is taken the usual way.
                        entry.kept = None;
                    }
                    match made.remove(&doc_id) {
                        None => {}
                        // Refused by the host (another space's id, a quota).
                        Some(None) => continue,
                        Some(Some(made)) => {
                            made.map_err(|e| DisconnectReason::BadSyncMessage(e.to_string()))?;
                            let Some(doc) = store.doc_mut(space, doc_id) else {
                                continue;
                            };
                            let entry = s
                                .docs
                                .entry(doc_id)
                                .or_insert_with(|| DocSync::fresh(read_only));
                            receive_loaded_whole(doc, &mut entry.state, msg)
                                .map_err(|e| DisconnectReason::BadSyncMessage(e.to_string()))?;
                            entry.idle_rounds = 0;
                            entry.stalled = false;
                            p.persisted.entry((space, doc_id)).or_default();
                            p.changed.insert((space, doc_id));
                            s.dirty.insert(doc_id);
                            continue;
                        }
                    }
                    // The peer acknowledging our heads: no need to load the document.
                    if let Some(entry) = s.docs.get_mut(&doc_id)
                        && is_plain_ack(&entry.state, &msg)
                        && store
                            .heads(space, doc_id)
                            .is_some_and(|ours| same_heads(&ours, &msg.heads))
                    {
                        let their_before = entry.state.their_heads.clone();
                        take_plain_ack(&mut entry.state, msg);
                        if entry.state.their_heads != their_before {
                            entry.idle_rounds = 0;
                            entry.stalled = false;
                        }
                        continue;
                    }
                    let doc = match store.doc_mut(space, doc_id) {
                        Some(d) => Some(d),
                        None if msg.changes.is_empty() && msg.heads.is_empty() => None,
                        None => store.create_doc(space, doc_id),
                    };
                    let Some(doc) = doc else {
                        // Not ours to hold (another space, or refused by the host) or an
                        // empty document: nothing to answer.
                        continue;
                    };
                    let entry = s
                        .docs
                        .entry(doc_id)
                        .or_insert_with(|| DocSync::fresh(read_only));
                    let before = doc.get_heads();
                    let their_before = entry.state.their_heads.clone();
                    let taken = replay::receive(doc, &mut entry.state, msg, c.replay && !read_only)
                        .map_err(|e| DisconnectReason::BadSyncMessage(e.to_string()))?;
                    c.replay &= !taken.mismatch;
                    let moved = doc.get_heads() != before;
                    if moved || entry.state.their_heads != their_before {
                        entry.idle_rounds = 0;
                        entry.stalled = false;
                    }
                    if moved {
                        p.persisted.entry((space, doc_id)).or_insert(before);
                        p.changed.insert((space, doc_id));
                    }
                    s.dirty.insert(doc_id);
                }
            }
        }
        Ok(())
    }

    /// Checks that `space` has an active session whose peer may still read it.
    fn active(c: &Conn, space: SpaceId, auth: &dyn Authorizer) -> Result<(), DisconnectReason> {
        match c.sessions.get(&space) {
            Some(s) if s.phase == Phase::Active => {
                if auth.may_read(space, c.peer) {
                    Ok(())
                } else {
                    Err(DisconnectReason::Unauthorized)
                }
            }
            _ => Err(DisconnectReason::Violation(
                "frame for a space without a session",
            )),
        }
    }

    fn send_digest(
        &mut self,
        conn: ConnId,
        c: &mut Conn,
        space: SpaceId,
        store: &mut dyn DocStore,
        p: &mut Pending,
    ) {
        let (docs, root) = space_summary(store, space);
        let count = u32::try_from(docs.len()).unwrap_or(u32::MAX);
        if let Some(s) = c.sessions.get_mut(&space) {
            s.sent_root = Some(root);
        }
        p.send(
            &mut self.stats,
            conn,
            c,
            &Frame::Digest { space, root, count },
        );
    }

    fn send_summary(
        &mut self,
        conn: ConnId,
        c: &mut Conn,
        space: SpaceId,
        docs: Vec<(DocId, HeadsDigest)>,
        p: &mut Pending,
    ) {
        let Some(s) = c.sessions.get_mut(&space) else {
            return;
        };
        if s.summary_sent {
            return;
        }
        s.summary_sent = true;
        // A summary larger than a frame goes in several frames.
        const PER_FRAME: usize = (MAX_FRAME - 64) / 24;
        if docs.is_empty() {
            p.send(&mut self.stats, conn, c, &Frame::Summary { space, docs });
            return;
        }
        for chunk in docs.chunks(PER_FRAME) {
            p.send(
                &mut self.stats,
                conn,
                c,
                &Frame::Summary {
                    space,
                    docs: chunk.to_vec(),
                },
            );
        }
    }

    /// Marks every changed document dirty in every active session of its space.
    fn spread_changes(&mut self, auth: &dyn Authorizer, p: &mut Pending) {
        if p.changed.is_empty() {
            return;
        }
        for c in self.conns.values_mut() {
            for (space, doc) in &p.changed {
                if let Some(s) = c.sessions.get_mut(space)
                    && s.phase == Phase::Active
                    && auth.may_read(*space, c.peer)
                {
                    s.progress(*doc, !auth.may_write(*space, c.peer));
                }
            }
        }
        p.changed.clear();
    }

    /// Generates sync messages for dirty documents, batched per session, while each
    /// connection has outbound budget.
    fn flush(&mut self, store: &mut dyn DocStore, p: &mut Pending) {
        let config = &self.config;
        let stats = &mut self.stats;
        for (conn, c) in self.conns.iter_mut() {
            let conn = *conn;
            let spaces: Vec<SpaceId> = c
                .sessions
                .iter()
                .filter(|(_, s)| s.phase == Phase::Active && !s.dirty.is_empty())
                .map(|(space, _)| *space)
                .collect();
            for space in spaces {
                let mut batch: Vec<(DocId, Vec<u8>)> = Vec::new();
                let mut batch_bytes = protocol::batch_header_len(0);
                // Only worth asking when many documents are due (a first sync).
                let mut first = match c.sessions.get(&space) {
                    Some(s) if s.dirty.len() > 1 => store.send_first(space),
                    _ => Vec::new(),
                }
                .into_iter();
                loop {
                    if c.unsent >= config.max_unsent {
                        break;
                    }
                    let Some(s) = c.sessions.get_mut(&space) else {
                        break;
                    };
                    let due_first = first.by_ref().find(|d| s.dirty.remove(d));
                    let Some(doc_id) = due_first.or_else(|| s.dirty.pop_first()) else {
                        break;
                    };
                    let Some(entry) = s.docs.get_mut(&doc_id) else {
                        continue;
                    };
                    if entry.stalled {
                        continue;
                    }
                    if entry.idle_rounds >= config.max_idle_rounds {
                        entry.stalled = true;
                        p.effects.push(Effect::Stalled {
                            conn,
                            space,
                            doc: doc_id,
                            reason: StallReason::TooManyRounds,
                        });
                        continue;
                    }
                    // A document kept unloaded is acknowledged from its heads alone, while
                    // the host still holds exactly those.
                    let kept = entry.kept.take().filter(|heads| {
                        store
                            .heads(space, doc_id)
                            .is_some_and(|ours| same_heads(&ours, heads))
                    });
                    // A peer that lacks the document gets it as stored, without loading it.
                    let whole = if kept.is_none() && sends_whole_doc(&entry.state) {
                        store
                            .saved(space, doc_id)
                            .filter(|(bytes, heads)| !bytes.is_empty() && !heads.is_empty())
                    } else {
                        None
                    };
                    let msg = match (kept, whole) {
                        (Some(heads), _) => kept_ack(&mut entry.state, heads),
                        (None, Some((saved, heads))) => {
                            whole_doc_message(&mut entry.state, saved, heads)
                        }
                        (None, None) => {
                            let Some(doc) = store.doc_mut(space, doc_id) else {
                                s.docs.remove(&doc_id);
                                continue;
                            };
                            let Some(msg) = doc.sync().generate_sync_message(&mut entry.state)
                            else {
                                continue;
                            };
                            msg
                        }
                    };
                    let bytes = msg.encode();
                    if bytes.len() > MAX_CHANGE_BYTES {
                        entry.stalled = true;
                        p.effects.push(Effect::Stalled {
                            conn,
                            space,
                            doc: doc_id,
                            reason: StallReason::MessageTooLarge,
                        });
                        continue;
                    }
                    entry.idle_rounds += 1;
                    let entry_len = protocol::batch_entry_len(bytes.len());
                    if !batch.is_empty() && batch_bytes + entry_len + 8 > MAX_FRAME {
                        let messages = std::mem::take(&mut batch);
                        Self::send_batch(stats, conn, c, space, messages, p);
                        batch_bytes = protocol::batch_header_len(0);
                    }
                    batch_bytes += entry_len;
                    batch.push((doc_id, bytes));
                    if batch_bytes >= config.batch_target {
                        let messages = std::mem::take(&mut batch);
                        Self::send_batch(stats, conn, c, space, messages, p);
                        batch_bytes = protocol::batch_header_len(0);
                    }
                }
                if !batch.is_empty() {
                    Self::send_batch(stats, conn, c, space, batch, p);
                }
            }
        }
    }

    fn send_batch(
        stats: &mut Stats,
        conn: ConnId,
        c: &mut Conn,
        space: SpaceId,
        messages: Vec<(DocId, Vec<u8>)>,
        p: &mut Pending,
    ) {
        stats.sync_messages_sent += messages.len() as u64;
        stats.sync_bytes_sent += messages.iter().map(|(_, m)| m.len() as u64).sum::<u64>();
        p.send(stats, conn, c, &Frame::SyncBatch { space, messages });
    }
}

#[cfg(test)]
mod tests {
    use automerge::ROOT;
    use automerge::transaction::Transactable;

    use super::*;

    fn ok<T, E: std::fmt::Debug>(r: Result<T, E>) -> T {
        r.unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn round_trip(msg: sync::Message) -> sync::Message {
        ok(sync::Message::decode(&msg.encode()))
    }

    fn edit(doc: &mut AutoCommit, key: &str) {
        ok(doc.put(ROOT, key, key));
        let _ = doc.commit();
    }

    /// What automerge makes of a plain acknowledgement, and what `take_plain_ack` makes of
    /// it, are the same state; and the next message would say nothing.
    fn assert_ack_matches(doc: &mut AutoCommit, ours: &sync::State, ack: sync::Message) {
        assert!(is_plain_ack(ours, &ack), "{ack:?}");
        let mut by_automerge = ours.clone();
        ok(doc
            .sync()
            .receive_sync_message(&mut by_automerge, ack.clone()));
        let mut shortcut = ours.clone();
        take_plain_ack(&mut shortcut, ack);
        assert_eq!(shortcut, by_automerge);
        assert!(doc.sync().generate_sync_message(&mut shortcut).is_none());
    }

    /// A document of three changes, and how a host stores it: a snapshot of the first two
    /// followed by a change chunk of the third.
    fn stored_as_snapshot_and_chunk() -> (AutoCommit, Vec<u8>) {
        let mut doc = AutoCommit::new();
        edit(&mut doc, "a");
        edit(&mut doc, "b");
        let mut stored = doc.save();
        let before = doc.get_heads();
        edit(&mut doc, "c");
        stored.extend(doc.save_after(&before));
        (doc, stored)
    }

    /// The whole-document message made from stored bytes (a snapshot and a change chunk)
    /// brings a peer that has nothing level, as automerge's own does; both peers' answers
    /// are plain acknowledgements that the shortcut takes exactly as automerge would, also
    /// for a later live edit.
    #[test]
    fn the_shortcuts_do_what_automerge_does() {
        let (mut doc, stored) = stored_as_snapshot_and_chunk();

        for from_store in [true, false] {
            let mut ours = DocSync::peer_lacks_it(false).state;
            assert!(sends_whole_doc(&ours));
            let msg = if from_store {
                whole_doc_message(&mut ours, stored.clone(), doc.get_heads())
            } else {
                ok(doc
                    .sync()
                    .generate_sync_message(&mut ours)
                    .ok_or("a message"))
            };
            let mut peer = AutoCommit::new();
            let mut theirs = sync::State::new();
            ok(peer
                .sync()
                .receive_sync_message(&mut theirs, round_trip(msg)));
            assert_eq!(
                peer.get_heads(),
                doc.get_heads(),
                "from store: {from_store}"
            );
            let ack = ok(peer
                .sync()
                .generate_sync_message(&mut theirs)
                .ok_or("an ack"));
            assert_ack_matches(&mut doc, &ours, round_trip(ack));

            // A live edit, sent the usual way and acknowledged.
            let mut ours = DocSync::fresh(false).state;
            let mut theirs = sync::State::new();
            for _ in 0..4 {
                if let Some(m) = doc.sync().generate_sync_message(&mut ours) {
                    ok(peer.sync().receive_sync_message(&mut theirs, round_trip(m)));
                }
                if let Some(m) = peer.sync().generate_sync_message(&mut theirs) {
                    ok(doc.sync().receive_sync_message(&mut ours, round_trip(m)));
                }
            }
            edit(&mut doc, if from_store { "d" } else { "e" });
            let m = ok(doc.sync().generate_sync_message(&mut ours).ok_or("edit"));
            ok(peer.sync().receive_sync_message(&mut theirs, round_trip(m)));
            let ack = ok(peer.sync().generate_sync_message(&mut theirs).ok_or("ack"));
            assert_ack_matches(&mut doc, &ours, round_trip(ack));
        }
    }

    /// A whole document received by a host that lacks it: made by a strict load of the
    /// message's bytes and `receive_loaded_whole`, the document, the sync state and the
    /// next message (the acknowledgement) are what automerge's own receive into an empty
    /// document gives.
    #[test]
    fn a_document_loaded_whole_from_a_message_matches_automerges_receive() {
        let (mut doc, stored) = stored_as_snapshot_and_chunk();
        let mut ours = DocSync::peer_lacks_it(false).state;
        let msg = round_trip(whole_doc_message(
            &mut ours,
            stored.clone(),
            doc.get_heads(),
        ));

        let mut by_automerge = AutoCommit::new();
        let mut their_state = DocSync::fresh(false).state;
        ok(by_automerge
            .sync()
            .receive_sync_message(&mut their_state, msg.clone()));

        let bytes: Vec<u8> = msg.changes.iter().flatten().copied().collect();
        assert_eq!(bytes, stored);
        let mut loaded = ok(load_whole(&bytes));
        let mut state = DocSync::fresh(false).state;
        ok(receive_loaded_whole(&mut loaded, &mut state, msg));

        assert_eq!(loaded.get_heads(), by_automerge.get_heads());
        assert_eq!(loaded.get_heads(), doc.get_heads());
        assert_eq!(state, their_state);
        let ack = |d: &mut AutoCommit, st: &mut sync::State| {
            d.sync().generate_sync_message(st).map(|m| m.encode())
        };
        let expected = ack(&mut by_automerge, &mut their_state);
        assert!(expected.is_some(), "automerge acknowledges");
        assert_eq!(ack(&mut loaded, &mut state), expected);
        assert_eq!(state, their_state);
    }

    /// A whole document kept unloaded: `receive_kept_whole` leaves the sync state as
    /// automerge's receive into an empty document does, and `kept_ack` answers with the
    /// message automerge generates next, to the byte, with the same state after.
    #[test]
    fn a_document_kept_unloaded_is_acknowledged_as_automerge_would() {
        let (mut doc, stored) = stored_as_snapshot_and_chunk();
        let mut other = doc.fork().with_actor("bb".as_bytes().into());
        edit(&mut other, "x");
        let mut one = doc.fork().with_actor("cc".as_bytes().into());
        edit(&mut one, "y");
        ok(one.merge(&mut other));
        assert_eq!(one.get_heads().len(), 2);
        let one_saved = one.save();
        for (mut doc, saved) in [(doc, stored), (one, one_saved)] {
            let mut ours = DocSync::peer_lacks_it(false).state;
            let msg = round_trip(whole_doc_message(&mut ours, saved, doc.get_heads()));
            assert!(keepable_whole(&msg));

            let mut by_automerge = AutoCommit::new();
            let mut expected = DocSync::fresh(false).state;
            ok(by_automerge
                .sync()
                .receive_sync_message(&mut expected, msg.clone()));
            assert_eq!(by_automerge.get_heads(), doc.get_heads());

            let mut state = DocSync::fresh(false).state;
            let heads = msg.heads.clone();
            receive_kept_whole(&mut state, msg);
            assert_eq!(state, expected);
            let ack = ok(by_automerge
                .sync()
                .generate_sync_message(&mut expected)
                .ok_or("automerge acknowledges"));
            let ours_ack = kept_ack(&mut state, heads);
            let encoded = ours_ack.encode();
            assert_eq!(encoded, ack.encode());
            assert_eq!(state, expected);
            // And the sender takes it as a plain acknowledgement.
            assert_ack_matches(&mut doc, &ours, ok(sync::Message::decode(&encoded)));
        }
        // automerge's own whole-document message carries a bloom filter of what it sent
        // (`have`): not kept (what to answer would depend on the document).
        let (mut doc, _) = stored_as_snapshot_and_chunk();
        let own = round_trip(ok(doc
            .sync()
            .generate_sync_message(&mut DocSync::peer_lacks_it(false).state)
            .ok_or("msg")));
        assert!(!own.changes.is_empty());
        assert!(!keepable_whole(&own));
    }

    /// Bytes that load only in part (a document followed by garbage, or cut short) are
    /// refused by the strict load, where loading them into an empty document keeps the
    /// part that loads.
    #[test]
    fn a_document_that_loads_only_in_part_is_refused() {
        let mut doc = AutoCommit::new();
        edit(&mut doc, "a");
        let saved = doc.save();
        let before = doc.get_heads();
        edit(&mut doc, "b");
        let chunk = doc.save_after(&before);
        let mut with_garbage = saved.clone();
        with_garbage.extend_from_slice(&chunk[..chunk.len() / 2]);
        with_garbage.extend_from_slice(b"not an automerge chunk");
        assert!(load_whole(&with_garbage).is_err());
        let mut lenient = AutoCommit::new();
        let kept = lenient.load_incremental(&with_garbage);
        assert!(kept.is_ok(), "{kept:?}");
        assert_eq!(lenient.get_heads(), before);

        let mut whole = saved;
        whole.extend_from_slice(&chunk);
        assert_eq!(ok(load_whole(&whole)).get_heads(), doc.get_heads());
    }

    /// An answer that carries changes, needs something, or names other heads is not taken
    /// as a plain acknowledgement.
    #[test]
    fn only_plain_acknowledgements_take_the_shortcut() {
        let mut doc = AutoCommit::new();
        edit(&mut doc, "a");
        let mut ours = DocSync::peer_lacks_it(false).state;
        let _ = whole_doc_message(&mut ours, doc.save(), doc.get_heads());
        let mut other = AutoCommit::new();
        edit(&mut other, "z");
        let with_changes = round_trip(ok(other
            .sync()
            .generate_sync_message(&mut DocSync::peer_lacks_it(false).state)
            .ok_or("msg")));
        assert!(!is_plain_ack(&ours, &with_changes));
        let other_heads = sync::Message {
            changes: sync::ChunkList::empty(),
            ..with_changes
        };
        assert!(!is_plain_ack(&ours, &other_heads));
    }
}
