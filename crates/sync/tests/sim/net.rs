//! A deterministic simulated network of sync engines.
//!
//! Each connection is a reliable, ordered stream in each direction (a frame is delivered no
//! earlier than the previous frame of the same direction), with a random delay per frame,
//! so frames of different connections interleave in any order. The network can drop whole
//! connections, partition devices into groups (dials across groups fail, connections across
//! them drop) and restart a device (its engine is replaced and its documents reloaded from
//! what it persisted). Every delivered frame is decoded and checked: a frame naming a space
//! reaches only a device that was a member of that space when the frame was sent, except
//! `Refused`, which only says "no". Devices can be linked to their person's spaces while it
//! runs (a ticket's redemption, checked by the admitting device) and unlinked again.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use cohort_model::{DocId, SpaceId};
use cohort_sync::DeviceId;
use cohort_sync::engine::{Config, ConnId, DisconnectReason, Effect, Engine, Event};
use cohort_sync::protocol::{self, Frame};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::{MemStore, Members, SharedLinks, SimAuth, link_token};

/// One device.
pub struct Node {
    pub id: DeviceId,
    pub engine: Engine,
    pub store: MemStore,
    pub auth: SimAuth,
    pub config: Config,
    /// An outsider: excluded from convergence checks, watched for leaks.
    pub outsider: bool,
    pub restarts: u32,
}

enum Action {
    Deliver {
        conn: u64,
        to: usize,
        bytes: Vec<u8>,
        /// When the sender handed the bytes to the network.
        sent: u64,
    },
    Written {
        conn: u64,
        at: usize,
        n: usize,
    },
    Closed {
        conn: u64,
        at: usize,
    },
    Dial {
        from: usize,
        to: usize,
    },
}

struct Link {
    dialer: usize,
    listener: usize,
    open: bool,
    /// Time of the last delivery scheduled towards the dialer (0) and the listener (1).
    last: [u64; 2],
}

/// Counters of a run.
#[derive(Debug, Default, Clone)]
pub struct NetStats {
    pub frames: u64,
    pub bytes: u64,
    pub connections: u64,
    pub drops: u64,
    pub restarts: u64,
    pub edits: u64,
    pub refused: u64,
    /// Devices linked by redeeming their ticket.
    pub links: u64,
    /// Devices unlinked.
    pub unlinks: u64,
    /// Admission requests refused (forged tickets).
    pub bad_redemptions: u64,
}

/// The network.
pub struct Net {
    pub rng: StdRng,
    pub now: u64,
    pub nodes: Vec<Node>,
    pub members: Members,
    /// Devices linked and unlinked at run time, shared with every device's authorizer.
    pub link_state: SharedLinks,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    actions: BTreeMap<u64, Action>,
    links: BTreeMap<u64, Link>,
    next_conn: u64,
    /// `Some(group per node)` while partitioned.
    pub partition: Option<Vec<u8>>,
    pub max_delay: u64,
    /// Everything that must never happen.
    pub violations: Vec<String>,
    pub stats: NetStats,
}

impl Net {
    pub fn new(seed: u64, members: Members, link_state: SharedLinks, nodes: Vec<Node>) -> Self {
        Net {
            rng: StdRng::seed_from_u64(seed),
            now: 0,
            nodes,
            members,
            link_state,
            seq: 0,
            queue: BinaryHeap::new(),
            actions: BTreeMap::new(),
            links: BTreeMap::new(),
            next_conn: 1,
            partition: None,
            max_delay: 30,
            violations: Vec::new(),
            stats: NetStats::default(),
        }
    }

    fn schedule(&mut self, at: u64, action: Action) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq)));
        self.actions.insert(self.seq, action);
    }

    /// Whether `node` was a member of `space` at time `at` (ground truth and links).
    fn is_member(&self, space: SpaceId, node: usize, at: u64) -> bool {
        let id = self.nodes[node].id;
        self.members.get(&space).is_some_and(|m| m.contains(&id))
            && self.link_state.borrow().live(space, id, at)
    }

    /// Whether two devices share a space (per the ground truth).
    pub fn share_a_space(&self, a: usize, b: usize) -> bool {
        let (ia, ib) = (self.nodes[a].id, self.nodes[b].id);
        self.members
            .values()
            .any(|m| m.contains(&ia) && m.contains(&ib))
    }

    fn apart(&self, a: usize, b: usize) -> bool {
        self.partition.as_ref().is_some_and(|g| g[a] != g[b])
    }

    /// Dials from `from` to `to` after `delay` ms.
    pub fn dial_later(&mut self, from: usize, to: usize, delay: u64) {
        self.schedule(self.now + delay, Action::Dial { from, to });
    }

    fn handle(&mut self, node: usize, event: Event) {
        let n = &mut self.nodes[node];
        let effects = n.engine.handle(self.now, event, &mut n.store, &n.auth);
        self.effects(node, effects);
    }

    fn effects(&mut self, node: usize, effects: Vec<Effect>) {
        self.nodes[node].store.apply(&effects);
        for e in effects {
            match e {
                Effect::Send { conn, bytes, .. } => self.send(node, conn.0, bytes),
                Effect::Disconnect {
                    conn,
                    reason: DisconnectReason::Revoked,
                    ..
                } if self.stats.unlinks > 0 => {
                    // Unlinking a device closes its connections, on both sides.
                    self.close(conn.0, Some(node));
                }
                Effect::Disconnect { conn, reason, .. } => {
                    if !self.nodes[node].outsider {
                        self.violations.push(format!(
                            "t={} node {node} disconnected conn {}: {reason:?}",
                            self.now, conn.0
                        ));
                    }
                    self.close(conn.0, Some(node));
                }
                Effect::Stalled { doc, reason, .. } => self.violations.push(format!(
                    "t={} node {node} stalled {doc:?}: {reason:?}",
                    self.now
                )),
                Effect::Refused { .. } => self.stats.refused += 1,
                Effect::RefusedPeer { .. } => {}
                Effect::Admit {
                    conn,
                    peer,
                    space,
                    request,
                } => self.admit(node, conn, peer, space, &request),
                Effect::Persist { .. } | Effect::Changed { .. } => {}
            }
        }
    }

    fn send(&mut self, from: usize, conn: u64, bytes: Vec<u8>) {
        let delay = self.rng.random_range(1..=self.max_delay);
        let now = self.now;
        let Some(link) = self.links.get_mut(&conn) else {
            return;
        };
        if !link.open {
            return;
        }
        let (to, dir) = if link.dialer == from {
            (link.listener, 1)
        } else {
            (link.dialer, 0)
        };
        let at = (now + delay).max(link.last[dir]);
        link.last[dir] = at;
        let n = bytes.len();
        self.schedule(
            at,
            Action::Deliver {
                conn,
                to,
                bytes,
                sent: now,
            },
        );
        self.schedule(at, Action::Written { conn, at: from, n });
    }

    /// Closes a connection; `by` already knows (its engine asked for it).
    pub fn close(&mut self, conn: u64, by: Option<usize>) {
        let Some(link) = self.links.get_mut(&conn) else {
            return;
        };
        if !link.open {
            return;
        }
        link.open = false;
        let (a, b) = (link.dialer, link.listener);
        let now = self.now;
        for side in [a, b] {
            if Some(side) != by {
                self.schedule(now, Action::Closed { conn, at: side });
            }
        }
    }

    fn open_links(&self) -> Vec<u64> {
        self.links
            .iter()
            .filter(|(_, l)| l.open)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Drops one random open connection.
    pub fn drop_random(&mut self) {
        let open = self.open_links();
        if open.is_empty() {
            return;
        }
        let conn = open[self.rng.random_range(0..open.len())];
        self.stats.drops += 1;
        self.close(conn, None);
    }

    /// Splits the devices into two groups, dropping connections between them.
    pub fn partition_random(&mut self) {
        let groups: Vec<u8> = (0..self.nodes.len())
            .map(|_| self.rng.random_range(0..2u8))
            .collect();
        self.partition = Some(groups);
        for conn in self.open_links() {
            let (a, b) = (self.links[&conn].dialer, self.links[&conn].listener);
            if self.apart(a, b) {
                self.close(conn, None);
            }
        }
    }

    /// Restarts a device: its engine's memory is gone, its persisted documents stay.
    pub fn restart(&mut self, node: usize) {
        self.stats.restarts += 1;
        for conn in self.open_links() {
            let l = &self.links[&conn];
            if l.dialer == node || l.listener == node {
                // The restarting side forgets silently; the other side sees a close.
                self.close(conn, Some(node));
            }
        }
        let n = &mut self.nodes[node];
        n.engine = Engine::new(n.config.clone());
        n.store.reload();
        n.restarts += 1;
    }

    /// A device's host decides on an admission request: a device being linked presents its
    /// own ticket (the link also takes it into the person's cohorts, as the admitting device
    /// appends it to their logs); anything else is refused. Every device then hears that
    /// membership changed.
    fn admit(&mut self, node: usize, conn: ConnId, peer: DeviceId, space: SpaceId, request: &[u8]) {
        let genuine = self.is_member(space, node, self.now)
            && request == link_token(space, peer).as_slice()
            && self.link_state.borrow().pending.contains(&(space, peer))
            && !self.link_state.borrow().linked.contains_key(&(space, peer));
        let result = if genuine {
            let mut links = self.link_state.borrow_mut();
            let pairs: Vec<(SpaceId, DeviceId)> = links
                .pending
                .iter()
                .filter(|(_, d)| *d == peer)
                .copied()
                .collect();
            for pair in pairs {
                links.linked.entry(pair).or_insert(self.now);
            }
            Ok(())
        } else {
            self.stats.bad_redemptions += 1;
            Err(protocol::RefuseReason::InviteInvalid)
        };
        if genuine {
            self.stats.links += 1;
        }
        self.handle(
            node,
            Event::Admitted {
                conn,
                space,
                result,
            },
        );
        if genuine {
            self.membership_changed();
        }
    }

    /// Tells every device that membership changed (their logs would say so).
    fn membership_changed(&mut self) {
        for node in 0..self.nodes.len() {
            self.handle(node, Event::MembershipChanged);
        }
    }

    /// Unlinks one random device that was linked while running from all its spaces.
    pub fn unlink_random(&mut self) {
        let candidates: Vec<DeviceId> = {
            let links = self.link_state.borrow();
            links
                .linked
                .keys()
                .filter(|k| !links.unlinked.contains_key(k))
                .map(|(_, d)| *d)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        if candidates.is_empty() {
            return;
        }
        let device = candidates[self.rng.random_range(0..candidates.len())];
        {
            let mut links = self.link_state.borrow_mut();
            let pairs: Vec<(SpaceId, DeviceId)> = links
                .linked
                .keys()
                .filter(|(_, d)| *d == device)
                .copied()
                .collect();
            for pair in pairs {
                links.unlinked.entry(pair).or_insert(self.now);
            }
        }
        self.stats.unlinks += 1;
        self.membership_changed();
    }

    /// Whether `node` is a member of `space` now.
    fn member_now(&self, space: SpaceId, node: usize) -> bool {
        self.is_member(space, node, self.now)
    }

    /// (space, device) pairs still waiting to be linked (must be none once quiet).
    pub fn unlinked_pending(&self) -> Vec<String> {
        let links = self.link_state.borrow();
        links
            .pending
            .iter()
            .filter(|k| !links.linked.contains_key(k))
            .map(|(s, d)| format!("{d:?} was never linked to {s:?}"))
            .collect()
    }

    /// A random local edit on a random (non-outsider) device: a new document or a change
    /// to one it holds, in a space it is a member of now.
    pub fn random_edit(&mut self) {
        let candidates: Vec<usize> = (0..self.nodes.len())
            .filter(|i| !self.nodes[*i].outsider)
            .collect();
        let node = candidates[self.rng.random_range(0..candidates.len())];
        let spaces: Vec<SpaceId> = self
            .members
            .keys()
            .copied()
            .filter(|s| self.member_now(*s, node))
            .collect();
        if spaces.is_empty() {
            return;
        }
        let space = spaces[self.rng.random_range(0..spaces.len())];
        let docs = self.nodes[node].store.docs_in(space);
        let doc = if docs.is_empty() || self.rng.random_bool(0.3) {
            let doc = DocId::from_bytes(self.rng.random());
            let title = format!("doc by {node}");
            self.nodes[node]
                .store
                .create_local(space, doc, &title, "hello");
            doc
        } else {
            let doc = docs[self.rng.random_range(0..docs.len())];
            let pick = self.rng.random_range(0..1000usize);
            let delete = self.rng.random_bool(0.3);
            let words = ["a", "bc", "déf", "ghij", " ", "\n", "🙂"];
            let insert = words[self.rng.random_range(0..words.len())];
            self.nodes[node].store.edit_local(doc, pick, delete, insert);
            doc
        };
        self.stats.edits += 1;
        self.handle(node, Event::LocalChange { space, doc });
    }

    /// Runs scheduled actions up to time `until` (or until the queue is empty when `None`).
    /// Returns false if `max_steps` ran out first (a livelock).
    pub fn run(&mut self, until: Option<u64>, max_steps: u64) -> bool {
        let mut steps = 0;
        while let Some(Reverse((at, seq))) = self.queue.peek().copied() {
            if until.is_some_and(|u| at > u) {
                break;
            }
            steps += 1;
            if steps > max_steps {
                return false;
            }
            self.queue.pop();
            self.now = self.now.max(at);
            let Some(action) = self.actions.remove(&seq) else {
                continue;
            };
            self.act(action);
        }
        if let Some(u) = until {
            self.now = self.now.max(u);
        }
        true
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Dial { from, to } => {
                if self.apart(from, to) {
                    return;
                }
                let conn = self.next_conn;
                self.next_conn += 1;
                self.stats.connections += 1;
                self.links.insert(
                    conn,
                    Link {
                        dialer: from,
                        listener: to,
                        open: true,
                        last: [0, 0],
                    },
                );
                let (a, b) = (self.nodes[from].id, self.nodes[to].id);
                self.handle(
                    to,
                    Event::Connected {
                        conn: ConnId(conn),
                        peer: a,
                        dialer: false,
                    },
                );
                self.handle(
                    from,
                    Event::Connected {
                        conn: ConnId(conn),
                        peer: b,
                        dialer: true,
                    },
                );
            }
            Action::Deliver {
                conn,
                to,
                bytes,
                sent,
            } => {
                if !self.links.get(&conn).is_some_and(|l| l.open) {
                    return;
                }
                self.inspect(to, &bytes, sent);
                // Split the bytes at a random point: the engine must reassemble frames.
                let cut = self.rng.random_range(0..=bytes.len());
                let (first, second) = bytes.split_at(cut);
                for part in [first, second] {
                    if part.is_empty() || !self.links.get(&conn).is_some_and(|l| l.open) {
                        continue;
                    }
                    self.handle(
                        to,
                        Event::Received {
                            conn: ConnId(conn),
                            bytes: part.to_vec(),
                        },
                    );
                }
            }
            Action::Written { conn, at, n } => {
                if self.links.get(&conn).is_some_and(|l| l.open) {
                    self.handle(
                        at,
                        Event::Sent {
                            conn: ConnId(conn),
                            bytes: n,
                        },
                    );
                }
            }
            Action::Closed { conn, at } => {
                self.handle(at, Event::Disconnected { conn: ConnId(conn) })
            }
        }
    }

    /// Checks every frame delivered to `to`: nothing about a space reaches a device that was
    /// not a member when the frame was sent.
    fn inspect(&mut self, to: usize, bytes: &[u8], sent: u64) {
        let mut rest = bytes;
        while !rest.is_empty() {
            match protocol::decode_frame(rest) {
                Ok((frame, used)) => {
                    self.stats.frames += 1;
                    self.stats.bytes += used as u64;
                    rest = &rest[used..];
                    let space = frame.space();
                    let reveals = !matches!(frame, Frame::Refused { .. });
                    if reveals && !self.is_member(space, to, sent) {
                        self.violations.push(format!(
                            "t={} node {to} (not a member of {space:?}) received {}",
                            self.now,
                            describe(&frame)
                        ));
                    }
                }
                Err(e) => {
                    self.violations
                        .push(format!("engine sent a bad frame: {e}"));
                    return;
                }
            }
        }
    }

    /// Whether any engine still has work queued or any action is scheduled.
    pub fn busy(&self) -> bool {
        !self.queue.is_empty() || self.nodes.iter().any(|n| n.engine.has_pending_work())
    }

    /// Every pair of devices sharing a space gets a fresh connection (after healing).
    pub fn connect_all(&mut self) {
        for a in 0..self.nodes.len() {
            for b in a + 1..self.nodes.len() {
                if self.share_a_space(a, b) {
                    self.dial_later(a, b, 1);
                }
            }
        }
    }

    /// Differences between members' copies of each space (empty when converged). Devices
    /// unlinked from a space keep what they had and are not compared.
    pub fn divergence(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let members = self.members.clone();
        for space in members.keys() {
            let holders: Vec<usize> = (0..self.nodes.len())
                .filter(|i| self.member_now(*space, *i))
                .collect();
            let mut reference = None;
            for &i in &holders {
                let heads = self.nodes[i].store.heads_of(*space);
                match &reference {
                    None => reference = Some((i, heads)),
                    Some((j, r)) if *r != heads => {
                        let all: BTreeSet<&DocId> = r.keys().chain(heads.keys()).collect();
                        let differing =
                            all.into_iter().filter(|d| r.get(d) != heads.get(d)).count();
                        out.push(format!(
                            "space {space:?}: node {i} and node {j} differ on {differing} docs ({} vs {})",
                            heads.len(),
                            r.len()
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        out
    }

    /// Documents a device holds in spaces it is not a member of (must be none).
    pub fn leaked_docs(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            for (doc, d) in &n.store.docs {
                if !self
                    .members
                    .get(&d.space)
                    .is_some_and(|m| m.contains(&n.id))
                {
                    out.push(format!("node {i} holds {doc:?} of {:?}", d.space));
                }
            }
            for (doc, k) in &n.store.kept {
                if !self
                    .members
                    .get(&k.space)
                    .is_some_and(|m| m.contains(&n.id))
                {
                    out.push(format!("node {i} keeps {doc:?} of {:?}", k.space));
                }
            }
        }
        out
    }

    /// Documents whose persisted bytes do not reload to the in-memory heads.
    pub fn unpersisted(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, n) in self.nodes.iter_mut().enumerate() {
            for (id, k) in &n.store.kept {
                if !k.on_disk {
                    out.push(format!("node {i}: {id:?} kept but never persisted"));
                }
            }
            for (id, d) in n.store.docs.iter_mut() {
                let mem = d.doc.get_heads();
                if mem.is_empty() {
                    continue;
                }
                let mut disk = automerge::AutoCommit::new();
                if disk.load_incremental(&d.disk).is_err() || disk.get_heads() != mem {
                    out.push(format!("node {i}: {id:?} on disk differs from memory"));
                }
            }
        }
        out
    }
}

fn describe(frame: &Frame) -> String {
    match frame {
        Frame::Summary { docs, .. } => format!("a summary of {} docs", docs.len()),
        Frame::SyncBatch { messages, .. } => format!("sync messages for {} docs", messages.len()),
        other => format!("{other:?}"),
    }
}
