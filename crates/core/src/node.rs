//! The node: a data dir's core connected to the network.
//!
//! [`Node::start`] starts the libp2p host ([`cohort_net`]) with this device's key and spawns
//! one task that joins it to the core's sync engine:
//!
//! - network events become engine events (`PeerConnected` → `Connected`, frames →
//!   `Received`, ...), fed to [`Core::sync_event`];
//! - the engine's `Send` effects go to a writer task per peer, which reports bytes written
//!   back to the engine (`Sent`), so the engine's per-connection budget gives backpressure
//!   without ever blocking the loop on a slow peer;
//! - local edits (core change events) are offered to connected peers at once
//!   ([`Core::sync_poll`]);
//! - peers seen are remembered (address, last seen) and, like peers found by mDNS on the
//!   LAN, redialed with backoff whenever they are not connected (until the engine turns
//!   them away); the inviters of pending joins are dialed until a member admits this
//!   device.
//!
//! The core is shared with the caller (the CLI's command socket, the desktop shell) behind
//! one `Mutex`; the loop holds it only for one engine call at a time.
//!
//! Which side of a connection is the engine's "dialer" (the side that opens sessions) is not
//! who dialed at the network level (both may dial at once, and libp2p hides which connection
//! frames use): it is the device with the smaller id, which both sides compute alike.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cohort_model::Timestamp;
use cohort_net::{Multiaddr, Net, NetConfig, NetEvent, NetHandle, PeerId};
use cohort_sync::DeviceId;
use cohort_sync::engine::{ConnId, Effect, Event};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::error::{CoreError, Result};
use crate::sync_views::{PeerView, SyncNotice, SyncNoticeKind};
use crate::{ChangeKind, Core, INGEST_BYTES, INGEST_DOCS, PreparedBatch};

/// Access to the core a node runs over (the core itself, or an adapter that owns one).
pub trait CoreHost: Send + 'static {
    /// The core.
    fn core(&mut self) -> &mut Core;
}

impl CoreHost for Core {
    fn core(&mut self) -> &mut Core {
        self
    }
}

/// How to run the node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Addresses to listen on (default: every IPv4 interface, a random TCP port and a random
    /// QUIC port).
    pub listen: Vec<Multiaddr>,
    /// Announce and discover peers on the LAN with mDNS (it announces this device's id).
    pub mdns: bool,
    /// Relay connections for peers that cannot reach each other directly (peers connected
    /// to this node reserve circuits on it and hand out circuit addresses through it).
    pub relay_server: bool,
    /// Always-on peers to keep connected (`/p2p/`-terminated addresses).
    pub peers: Vec<Multiaddr>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            listen: vec![
                "/ip4/0.0.0.0/tcp/0"
                    .parse()
                    .unwrap_or_else(|_| Multiaddr::empty()),
                "/ip4/0.0.0.0/udp/0/quic-v1"
                    .parse()
                    .unwrap_or_else(|_| Multiaddr::empty()),
            ],
            mdns: true,
            relay_server: false,
            peers: Vec::new(),
        }
    }
}

/// The store key of the peer book.
pub(crate) const PEERS_KEY: &str = "sync.peers";
/// The store key of the last addresses this device listened on (for tickets made while the
/// node is not running).
pub(crate) const ADDRS_KEY: &str = "sync.addrs";
/// Most addresses put in a ticket.
const MAX_TICKET_ADDRS: usize = 8;
/// Of those, at most this many relay circuit addresses (always kept, so a joiner that cannot
/// reach this device directly can still come through a relay).
const MAX_TICKET_CIRCUITS: usize = 4;
/// How often the loop wakes without events (engine work, join redials).
const TICK: Duration = Duration::from_millis(500);
/// How often the indexer looks again while a sync session is busy, and the longest it
/// leaves received documents unindexed because of one.
const INDEX_RECHECK: Duration = Duration::from_millis(50);
const INDEX_YIELDS_AT_MOST: Duration = Duration::from_secs(10);
/// Refusals of peers' requests are logged at most this often.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(1);
/// Frames queued per peer writer before the loop waits for it.
const WRITER_QUEUE: usize = 256;

/// A device seen before.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct PeerRecord {
    pub(crate) addr: Option<String>,
    pub(crate) last_seen: Option<Timestamp>,
}

/// What the node shares with the core (so the core answers `peers` and makes tickets
/// without waiting on the node's loop, which may be waiting on the core).
#[derive(Debug, Default)]
pub(crate) struct NodeShared {
    /// Devices seen, by PeerId text.
    pub(crate) book: BTreeMap<String, PeerRecord>,
    /// Devices connected now, by PeerId text.
    pub(crate) connected: BTreeSet<String>,
    /// Addresses to put in tickets (`/p2p/`-terminated).
    pub(crate) addrs: Vec<String>,
}

/// The core's link to its running node.
#[derive(Debug, Clone)]
pub struct NodeLink {
    pub(crate) shared: Arc<Mutex<NodeShared>>,
    commands: mpsc::Sender<Command>,
}

impl NodeLink {
    pub(crate) fn shared(&self) -> MutexGuard<'_, NodeShared> {
        lock(&self.shared)
    }

    /// Asks the node to sync now (without waiting for it).
    pub(crate) fn sync_now(&self) -> bool {
        let (tx, _) = oneshot::channel();
        self.commands.try_send(Command::SyncNow(tx)).is_ok()
    }
}

#[derive(Debug)]
enum Command {
    SyncNow(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
    /// Received documents were indexed: membership logs among them may have changed who
    /// may read what, so the engine is told.
    Indexed,
}

/// A running node. Dropping it does not stop the node: call [`Node::shutdown`].
pub struct Node<H: CoreHost> {
    host: Arc<Mutex<H>>,
    commands: mpsc::Sender<Command>,
    notices: broadcast::Sender<SyncNotice>,
    task: Option<JoinHandle<()>>,
    /// Loads and indexes documents kept as received, in the background.
    indexer: Option<JoinHandle<()>>,
}

fn lock<H>(host: &Mutex<H>) -> MutexGuard<'_, H> {
    // A panic while holding the lock leaves the core as it was after its last committed
    // transaction (every use case is one transaction), so it is safe to go on.
    host.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<H: CoreHost> Node<H> {
    /// Starts the network with this device's key and the loop joining it to the core.
    /// Must be called inside a tokio runtime.
    pub async fn start(host: Arc<Mutex<H>>, config: NodeConfig) -> Result<Node<H>> {
        let secret = lock(&host).core().device_secret();
        let mut net_config = NetConfig::from_secret(secret).map_err(net_err)?;
        net_config.mdns = config.mdns;
        net_config.relay_server = config.relay_server;
        net_config.known_peers = config.peers.clone();
        // Listen on the ports used last time where the configuration leaves the port to the
        // system, so peers that remember this device's address find it after a restart.
        let saved = saved_addrs(lock(&host).core());
        let sticky = sticky_listen(&config.listen, &saved);
        let started = if sticky == config.listen {
            None
        } else {
            let mut c = net_config.clone();
            c.listen = sticky;
            match Net::start(c).await {
                Ok(started) => Some(started),
                Err(e) => {
                    tracing::info!(error = %e, "last time's ports are taken; using new ones");
                    None
                }
            }
        };
        let (net, events) = match started {
            Some(s) => s,
            None => {
                net_config.listen = config.listen.clone();
                Net::start(net_config).await.map_err(net_err)?
            }
        };
        let (commands, command_rx) = mpsc::channel(64);
        let (notices, _) = broadcast::channel(256);
        let changes = lock(&host).core().subscribe();
        let shared = Arc::new(Mutex::new(NodeShared {
            book: load_book(lock(&host).core()),
            ..NodeShared::default()
        }));
        lock(&host).core().attach_node(Some(NodeLink {
            shared: shared.clone(),
            commands: commands.clone(),
        }));
        let mut lp = Loop {
            host: host.clone(),
            net,
            started: Instant::now(),
            conns: HashMap::new(),
            writers: HashMap::new(),
            next_conn: 1,
            shared,
            listen: Vec::new(),
            notices: notices.clone(),
            last_join_dial: None,
            refusals_logged: (None, 0),
            index: Arc::new(Notify::new()),
        };
        for addr in lp.net.listen_addrs().await.map_err(net_err)? {
            lp.listening(addr);
        }
        let (written_tx, written_rx) = mpsc::channel(1024);
        lp.redial_book().await;
        // Documents may be waiting from the last run.
        lp.index.notify_one();
        let indexer = tokio::spawn(index_received(
            host.clone(),
            lp.index.clone(),
            commands.clone(),
        ));
        let task = tokio::spawn(async move {
            lp.run(events, command_rx, changes, written_tx, written_rx)
                .await;
        });
        Ok(Node {
            host,
            commands,
            notices,
            task: Some(task),
            indexer: Some(indexer),
        })
    }

    /// The shared core.
    pub fn host(&self) -> &Arc<Mutex<H>> {
        &self.host
    }

    /// Sync happenings (peers, admissions, spaces in sync) from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SyncNotice> {
        self.notices.subscribe()
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())
    }

    /// Devices connected now or seen before, with names where known.
    pub fn peers(&self) -> Result<Vec<PeerView>> {
        lock(&self.host).core().peers()
    }

    /// Addresses other devices can reach this one at (`/p2p/`-terminated), for tickets.
    pub fn addresses(&self) -> Vec<String> {
        lock(&self.host).core().ticket_addresses()
    }

    /// Dials every known peer that is not connected and pending joins' inviters, and
    /// offers pending local changes.
    pub async fn sync_now(&self) -> Result<()> {
        self.ask(Command::SyncNow).await
    }

    /// Stops the network cleanly (peers are told), saves the peer book and sync times.
    pub async fn shutdown(mut self) -> Result<()> {
        // What is not indexed yet stays kept in the store, for the next run.
        if let Some(indexer) = self.indexer.take() {
            indexer.abort();
            let _ = indexer.await;
        }
        let result = self.ask(Command::Shutdown).await;
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        result
    }
}

/// Loads, checks and indexes the documents kept as received (see the core's
/// `received.rs`), a batch at a time, whenever `wake` is notified: the loading runs on
/// blocking threads without holding the core, which is held only to take a batch and to
/// write it.
async fn index_received<H: CoreHost>(
    host: Arc<Mutex<H>>,
    wake: Arc<Notify>,
    loop_commands: mpsc::Sender<Command>,
) {
    let mut yielded_since: Option<Instant> = None;
    // One batch is loaded (on blocking threads) while the one before it is written, so the
    // write, which holds the core, overlaps the next load. `after` is the last received
    // document taken.
    let mut in_flight: Option<tokio::task::JoinHandle<PreparedBatch>> = None;
    let mut after = 0;
    loop {
        // A first sync still arriving has the machine first (the indexer would slow it
        // down), but not for longer than `INDEX_YIELDS_AT_MOST` at a time.
        let batch = {
            let mut host = lock(&host);
            let core = host.core();
            let waited = yielded_since.is_some_and(|t| t.elapsed() >= INDEX_YIELDS_AT_MOST);
            if in_flight.is_none()
                && !waited
                && core.sync_busy()
                && core.has_received().unwrap_or(false)
            {
                None
            } else {
                Some(core.take_received_after(after, INGEST_DOCS, INGEST_BYTES))
            }
        };
        let Some(batch) = batch else {
            yielded_since.get_or_insert_with(Instant::now);
            tokio::time::sleep(INDEX_RECHECK).await;
            continue;
        };
        yielded_since = None;
        let next = match batch {
            Ok(b) if !b.is_empty() => {
                after = b.last();
                Some(tokio::task::spawn_blocking(move || b.prepare()))
            }
            Ok(_) => None,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the received documents");
                None
            }
        };
        match in_flight.take() {
            Some(loading) => match loading.await {
                Ok(prepared) => {
                    let settled = lock(&host).core().settle_received(prepared);
                    match settled {
                        Ok(n) => {
                            tracing::debug!(documents = n, "indexed received documents");
                            let _ = loop_commands.try_send(Command::Indexed);
                        }
                        Err(e) => tracing::error!(error = %e, "cannot store received documents"),
                    }
                }
                Err(e) => tracing::error!(error = %e, "indexing received documents failed"),
            },
            None if next.is_none() => {
                // Nothing (more) to take: start from the first again when woken.
                after = 0;
                wake.notified().await;
            }
            None => {}
        }
        in_flight = next;
    }
}

fn net_err(e: cohort_net::NetError) -> CoreError {
    CoreError::InvalidInput(format!("network: {e}"))
}

fn stopped() -> CoreError {
    CoreError::InvalidInput("the node has stopped".into())
}

fn saved_addrs(core: &mut Core) -> Vec<Multiaddr> {
    core.setting(ADDRS_KEY)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice::<Vec<String>>(&b).ok())
        .unwrap_or_default()
        .iter()
        .filter_map(|a| a.parse().ok())
        .collect()
}

/// Whether `addr` goes through a relay (holds `/p2p-circuit`).
fn is_circuit(addr: &Multiaddr) -> bool {
    addr.iter()
        .any(|p| matches!(p, cohort_net::Protocol::P2pCircuit))
}

/// The port-bearing part of an address: (tcp or udp, port), and whether it is QUIC. `None`
/// for a relay circuit address (its port is the relay's).
fn port_of(addr: &Multiaddr) -> Option<(bool, u16, bool)> {
    use cohort_net::Protocol;
    if is_circuit(addr) {
        return None;
    }
    let mut out = None;
    let mut quic = false;
    for p in addr.iter() {
        match p {
            Protocol::Tcp(port) => out = Some((true, port)),
            Protocol::Udp(port) => out = Some((false, port)),
            Protocol::QuicV1 => quic = true,
            _ => {}
        }
    }
    out.map(|(tcp, port)| (tcp, port, quic))
}

/// `listen` with each port 0 replaced by the port of the same transport used last time.
fn sticky_listen(listen: &[Multiaddr], saved: &[Multiaddr]) -> Vec<Multiaddr> {
    use cohort_net::Protocol;
    listen
        .iter()
        .map(|addr| {
            let Some((tcp, 0, quic)) = port_of(addr) else {
                return addr.clone();
            };
            let Some(port) = saved.iter().find_map(|s| match port_of(s) {
                Some((t, p, q)) if t == tcp && q == quic && p != 0 => Some(p),
                _ => None,
            }) else {
                return addr.clone();
            };
            addr.iter()
                .map(|p| match p {
                    Protocol::Tcp(0) => Protocol::Tcp(port),
                    Protocol::Udp(0) => Protocol::Udp(port),
                    other => other,
                })
                .collect()
        })
        .collect()
}

pub(crate) fn load_book(core: &mut Core) -> BTreeMap<String, PeerRecord> {
    match core.setting(PEERS_KEY) {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the peer book is damaged; starting a new one");
            BTreeMap::new()
        }),
        Ok(None) => BTreeMap::new(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the peer book");
            BTreeMap::new()
        }
    }
}

struct Loop<H: CoreHost> {
    host: Arc<Mutex<H>>,
    net: NetHandle,
    started: Instant,
    /// Connected peers: their engine connection and device.
    conns: HashMap<PeerId, (ConnId, DeviceId)>,
    writers: HashMap<PeerId, mpsc::Sender<(ConnId, Vec<u8>)>>,
    next_conn: u64,
    shared: Arc<Mutex<NodeShared>>,
    listen: Vec<Multiaddr>,
    notices: broadcast::Sender<SyncNotice>,
    last_join_dial: Option<Instant>,
    /// When a refusal was last logged, and how many were not logged since: refusals are
    /// logged at most once a second, so peers asking for spaces cannot flood the log.
    refusals_logged: (Option<Instant>, u64),
    /// Wakes the indexer of received documents.
    index: Arc<Notify>,
}

impl<H: CoreHost> Loop<H> {
    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    async fn run(
        &mut self,
        mut events: mpsc::Receiver<NetEvent>,
        mut commands: mpsc::Receiver<Command>,
        mut changes: broadcast::Receiver<crate::ChangeEvent>,
        written_tx: mpsc::Sender<(PeerId, ConnId, usize)>,
        mut written: mpsc::Receiver<(PeerId, ConnId, usize)>,
    ) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => self.net_event(event, &written_tx).await,
                    None => {
                        tracing::warn!("the network stopped");
                        break;
                    }
                },
                done = written.recv() => {
                    if let Some((peer, conn, n)) = done
                        && self.conns.get(&peer).map(|c| c.0) == Some(conn)
                    {
                        self.engine(Event::Sent { conn, bytes: n }, &written_tx).await;
                    }
                }
                change = changes.recv() => {
                    match change {
                        // Changes made by peers are already known to the engine.
                        Ok(c) if c.change == ChangeKind::Imported => {}
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                            self.poll(&written_tx).await;
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    }
                }
                command = commands.recv() => match command {
                    Some(Command::Shutdown(reply)) => {
                        self.shutdown().await;
                        let _ = reply.send(());
                        return;
                    }
                    Some(command) => self.command(command, &written_tx).await,
                    None => {
                        self.shutdown().await;
                        return;
                    }
                },
                _ = tick.tick() => {
                    // Also offers local changes (as `poll` does) and closes connections
                    // whose peer left a frame unfinished.
                    self.engine(Event::Tick, &written_tx).await;
                    self.dial_joins(false).await;
                }
            }
        }
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        {
            let mut host = lock(&self.host);
            let core = host.core();
            if let Err(e) = core.save_sync_times() {
                tracing::warn!(error = %e, "cannot save sync times");
            }
            core.attach_node(None);
        }
        lock(&self.shared).connected.clear();
        self.save_book();
        if let Err(e) = self.net.shutdown().await {
            tracing::debug!(error = %e, "network shutdown");
        }
    }

    fn save_book(&mut self) {
        let Ok(bytes) = serde_json::to_vec(&lock(&self.shared).book) else {
            return;
        };
        let mut host = lock(&self.host);
        if let Err(e) = host.core().set_setting(PEERS_KEY, &bytes) {
            tracing::warn!(error = %e, "cannot save the peer book");
        }
    }

    fn notice(&self, notice: SyncNotice) {
        tracing::info!(kind = ?notice.kind, space = ?notice.space.map(|s| s.short()), device = ?notice.device.as_deref().map(short), message = ?notice.message, "sync");
        let _ = self.notices.send(notice);
    }

    /// Redials every device seen before (it may be a member of a shared cohort).
    async fn redial_book(&mut self) {
        let book = lock(&self.shared).book.clone();
        for (peer, record) in &book {
            let (Ok(peer), Some(addr)) = (
                peer.parse::<PeerId>(),
                record
                    .addr
                    .as_ref()
                    .and_then(|a| a.parse::<Multiaddr>().ok()),
            ) else {
                continue;
            };
            if let Err(e) = self.net.add_known_peer(peer, addr).await {
                tracing::debug!(error = %e, "cannot add a known peer");
            }
        }
    }

    /// Dials the inviters of joins still waiting (at most every 5 s unless `now`).
    async fn dial_joins(&mut self, force: bool) {
        if !force
            && self
                .last_join_dial
                .is_some_and(|t| t.elapsed() < Duration::from_secs(5))
        {
            return;
        }
        self.last_join_dial = Some(Instant::now());
        let joins = {
            let mut host = lock(&self.host);
            host.core().joins_waiting().unwrap_or_default()
        };
        for (_, addrs) in joins {
            for addr in addrs {
                let Ok(addr) = addr.parse::<Multiaddr>() else {
                    continue;
                };
                let net = self.net.clone();
                // Dialing waits for the connection; do not hold up the loop.
                tokio::spawn(async move {
                    if let Err(e) = net.dial(addr.clone()).await {
                        tracing::debug!(%addr, error = %e, "cannot reach the inviter");
                    }
                });
            }
        }
    }

    async fn command(
        &mut self,
        command: Command,
        written_tx: &mpsc::Sender<(PeerId, ConnId, usize)>,
    ) {
        match command {
            Command::SyncNow(reply) => {
                self.redial_book().await;
                self.dial_joins(true).await;
                self.poll(written_tx).await;
                let _ = reply.send(());
            }
            Command::Shutdown(reply) => {
                let _ = reply.send(());
            }
            Command::Indexed => self.poll(written_tx).await,
        }
    }

    /// Records a listen address and the ticket addresses derived from it.
    fn listening(&mut self, addr: Multiaddr) {
        if self.listen.contains(&addr) {
            return;
        }
        tracing::info!(%addr, "listening");
        self.listen.push(addr);
        self.publish_addrs();
    }

    /// Forgets a listen address (a relay reservation that ended).
    fn not_listening(&mut self, addr: &Multiaddr) {
        let before = self.listen.len();
        self.listen.retain(|a| a != addr);
        if self.listen.len() != before {
            tracing::info!(%addr, "no longer listening");
            self.publish_addrs();
        }
    }

    /// Makes the ticket addresses from the listen addresses and saves them.
    fn publish_addrs(&mut self) {
        let me = self.net.local_peer_id();
        let addrs = ticket_addrs(&self.listen, me);
        lock(&self.shared).addrs = addrs.clone();
        if let Ok(bytes) = serde_json::to_vec(&addrs) {
            let mut host = lock(&self.host);
            if let Err(e) = host.core().set_setting(ADDRS_KEY, &bytes) {
                tracing::warn!(error = %e, "cannot save this device's addresses");
            }
        }
    }

    async fn net_event(
        &mut self,
        event: NetEvent,
        written_tx: &mpsc::Sender<(PeerId, ConnId, usize)>,
    ) {
        match event {
            NetEvent::PeerConnected { peer, addr } => {
                let Some(device) = device_of(&peer) else {
                    tracing::warn!(%peer, "a peer without an Ed25519 identity; disconnecting");
                    let _ = self.net.disconnect(peer).await;
                    return;
                };
                if self.conns.contains_key(&peer) {
                    return;
                }
                let conn = ConnId(self.next_conn);
                self.next_conn += 1;
                self.conns.insert(peer, (conn, device));
                let now = {
                    let mut host = lock(&self.host);
                    host.core().now()
                };
                {
                    let mut shared = lock(&self.shared);
                    let record = shared.book.entry(peer.to_string()).or_default();
                    record.addr = Some(format!("{addr}"));
                    record.last_seen = Some(now);
                    shared.connected.insert(peer.to_string());
                }
                // Keep the peer connected from now on: whenever the connection is lost (a
                // cut link, the peer restarting), the network redials this address with
                // backoff. Peers the engine turns away are forgotten again (`Disconnect`).
                if let Err(e) = self.net.add_known_peer(peer, addr.clone()).await {
                    tracing::debug!(error = %e, "cannot add a known peer");
                }
                self.spawn_writer(peer, written_tx.clone());
                let me = {
                    let mut host = lock(&self.host);
                    host.core().device()
                };
                self.notice(SyncNotice {
                    kind: SyncNoticeKind::PeerConnected,
                    space: None,
                    device: Some(device.to_string()),
                    message: Some(format!("{addr}")),
                });
                self.engine(
                    Event::Connected {
                        conn,
                        peer: device,
                        dialer: me < device,
                    },
                    written_tx,
                )
                .await;
            }
            NetEvent::PeerDisconnected { peer } => {
                self.writers.remove(&peer);
                self.forget_stranger(peer);
                if let Some((conn, device)) = self.conns.remove(&peer) {
                    let now = {
                        let mut host = lock(&self.host);
                        host.core().now()
                    };
                    {
                        let mut shared = lock(&self.shared);
                        if let Some(record) = shared.book.get_mut(&peer.to_string()) {
                            record.last_seen = Some(now);
                        }
                        shared.connected.remove(&peer.to_string());
                    }
                    self.notice(SyncNotice {
                        kind: SyncNoticeKind::PeerDisconnected,
                        space: None,
                        device: Some(device.to_string()),
                        message: None,
                    });
                    self.engine(Event::Disconnected { conn }, written_tx).await;
                }
            }
            NetEvent::Frame { peer, bytes } => {
                if let Some((conn, _)) = self.conns.get(&peer).copied() {
                    self.engine(Event::Received { conn, bytes }, written_tx)
                        .await;
                }
            }
            NetEvent::ProtocolViolation { peer, reason } => {
                // A frame of it may be lost, so its sync sessions cannot go on: disconnect
                // (an honest peer reconnects and starts afresh).
                tracing::warn!(%peer, %reason, "a peer broke the stream protocol; disconnecting it");
                if let Some((conn, _)) = self.conns.remove(&peer) {
                    lock(&self.shared).connected.remove(&peer.to_string());
                    self.writers.remove(&peer);
                    self.engine(Event::Disconnected { conn }, written_tx).await;
                }
                if let Err(e) = self.net.disconnect(peer).await {
                    tracing::debug!(error = %e, "disconnect");
                }
            }
            NetEvent::Discovered { peer, addrs } => {
                if self.conns.contains_key(&peer) {
                    return;
                }
                tracing::info!(%peer, "found a device on the local network");
                // Every advertised address (TCP and QUIC) is tried, and retried with backoff
                // while the device cannot be reached.
                for addr in addrs {
                    if let Err(e) = self.net.add_known_peer(peer, addr).await {
                        tracing::debug!(error = %e, "cannot add a discovered device");
                    }
                }
            }
            NetEvent::ListenAddr(addr) => self.listening(addr),
            NetEvent::ListenAddrExpired(addr) => self.not_listening(&addr),
            _ => {}
        }
    }

    /// A device that belongs to no cohort held here leaves the peer book when it
    /// disconnects: strangers (probing, refused, or a joiner never admitted) would otherwise
    /// fill it, be listed by `peers` and be redialed on every start.
    fn forget_stranger(&mut self, peer: PeerId) {
        let Some(device) = device_of(&peer) else {
            return;
        };
        let known = {
            let mut host = lock(&self.host);
            host.core().person_of_device(device)
        };
        if matches!(known, Ok(None)) {
            lock(&self.shared).book.remove(&peer.to_string());
        }
    }

    fn spawn_writer(&mut self, peer: PeerId, written: mpsc::Sender<(PeerId, ConnId, usize)>) {
        let (tx, mut rx) = mpsc::channel::<(ConnId, Vec<u8>)>(WRITER_QUEUE);
        let net = self.net.clone();
        tokio::spawn(async move {
            while let Some((conn, bytes)) = rx.recv().await {
                let n = bytes.len();
                if let Err(e) = net.send(peer, bytes).await {
                    tracing::debug!(%peer, error = %e, "send failed");
                    break;
                }
                if written.send((peer, conn, n)).await.is_err() {
                    break;
                }
            }
        });
        self.writers.insert(peer, tx);
    }

    /// Offers local changes and pending engine work.
    async fn poll(&mut self, written_tx: &mpsc::Sender<(PeerId, ConnId, usize)>) {
        let now = self.now();
        let result = {
            let mut host = lock(&self.host);
            host.core().sync_poll(now)
        };
        self.effects(result, written_tx).await;
    }

    async fn engine(&mut self, event: Event, written_tx: &mpsc::Sender<(PeerId, ConnId, usize)>) {
        let now = self.now();
        let result = {
            let mut host = lock(&self.host);
            host.core().sync_event(now, event)
        };
        self.effects(result, written_tx).await;
    }

    async fn effects(
        &mut self,
        result: Result<Vec<Effect>>,
        _written_tx: &mpsc::Sender<(PeerId, ConnId, usize)>,
    ) {
        let (notices, kept) = {
            let mut host = lock(&self.host);
            let core = host.core();
            (core.take_sync_notices(), core.take_kept_news())
        };
        if kept {
            self.index.notify_one();
        }
        for n in notices {
            self.notice(n);
        }
        let effects = match result {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "sync failed to store changes");
                return;
            }
        };
        for effect in effects {
            match effect {
                Effect::Send { conn, peer, bytes } => {
                    let Some(peer_id) = self
                        .conns
                        .iter()
                        .find(|(_, (c, d))| *c == conn && *d == peer)
                        .map(|(p, _)| *p)
                    else {
                        continue;
                    };
                    if let Some(writer) = self.writers.get(&peer_id)
                        && writer.send((conn, bytes)).await.is_err()
                    {
                        tracing::debug!(%peer_id, "writer gone");
                    }
                }
                Effect::Disconnect { conn, peer, reason } => {
                    tracing::warn!(device = %short(&peer.to_string()), "closing a connection: {reason}");
                    let found = self
                        .conns
                        .iter()
                        .find(|(_, (c, _))| *c == conn)
                        .map(|(p, _)| *p);
                    if let Some(peer_id) = found {
                        self.conns.remove(&peer_id);
                        lock(&self.shared).connected.remove(&peer_id.to_string());
                        self.writers.remove(&peer_id);
                        if let Err(e) = self.net.disconnect(peer_id).await {
                            tracing::debug!(error = %e, "disconnect");
                        }
                    }
                }
                Effect::Stalled {
                    space, doc, reason, ..
                } => {
                    tracing::warn!(space = %space.short(), doc = %doc.short(), ?reason, "a document stopped syncing on a connection");
                }
                Effect::RefusedPeer {
                    peer,
                    space,
                    reason,
                    ..
                } => {
                    let (last, unlogged) = &mut self.refusals_logged;
                    if last.is_some_and(|t| t.elapsed() < REFUSAL_LOG_EVERY) {
                        *unlogged += 1;
                    } else {
                        *last = Some(Instant::now());
                        let more = std::mem::take(unlogged);
                        tracing::warn!(device = %short(&peer.to_string()), space = %space.short(), ?reason, unlogged_since_last = more, "refused to sync a space with a device");
                    }
                }
                Effect::Refused { .. }
                | Effect::Admit { .. }
                | Effect::Persist { .. }
                | Effect::Changed { .. } => {}
            }
        }
    }
}

/// The addresses a ticket carries (`/p2p/`-terminated), best first: direct addresses off
/// loopback, then relay circuit addresses (at most `MAX_TICKET_CIRCUITS`, kept even when
/// there are many direct ones), then loopback ones; at most `MAX_TICKET_ADDRS`.
fn ticket_addrs(listen: &[Multiaddr], me: PeerId) -> Vec<String> {
    let full = |a: &Multiaddr| {
        if a.iter().last() == Some(cohort_net::Protocol::P2p(me)) {
            a.to_string()
        } else {
            format!("{a}/p2p/{me}")
        }
    };
    let loopback = |a: &Multiaddr| {
        a.iter().any(|p| match p {
            cohort_net::Protocol::Ip4(ip) => ip.is_loopback(),
            cohort_net::Protocol::Ip6(ip) => ip.is_loopback(),
            _ => false,
        })
    };
    let circuits: Vec<String> = listen
        .iter()
        .filter(|a| is_circuit(a))
        .take(MAX_TICKET_CIRCUITS)
        .map(full)
        .collect();
    let direct = |lo: bool| {
        listen
            .iter()
            .filter(move |a| !is_circuit(a) && loopback(a) == lo)
            .map(full)
    };
    let mut addrs: Vec<String> = direct(false)
        .take(MAX_TICKET_ADDRS.saturating_sub(circuits.len()))
        .collect();
    addrs.extend(circuits);
    addrs.extend(direct(true));
    addrs.truncate(MAX_TICKET_ADDRS);
    addrs
}

pub(crate) fn device_of(peer: &PeerId) -> Option<DeviceId> {
    cohort_net::device_key_of(peer).map(DeviceId)
}

fn short(s: &str) -> &str {
    s.get(..8).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Multiaddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn ports_left_to_the_system_reuse_last_times() {
        let listen = vec![
            addr("/ip4/0.0.0.0/tcp/0"),
            addr("/ip4/0.0.0.0/udp/0/quic-v1"),
            addr("/ip4/127.0.0.1/tcp/4001"),
        ];
        let saved = vec![
            addr(
                "/ip4/192.168.1.4/udp/5002/quic-v1/p2p/12D3KooWEpq5JzxaGHuEbgjdkDKM2CZ6Fi5zmtYbP8SSLjj7iDx7",
            ),
            addr("/ip4/192.168.1.4/tcp/5001"),
        ];
        assert_eq!(
            sticky_listen(&listen, &saved),
            vec![
                addr("/ip4/0.0.0.0/tcp/5001"),
                addr("/ip4/0.0.0.0/udp/5002/quic-v1"),
                addr("/ip4/127.0.0.1/tcp/4001"),
            ]
        );
        assert_eq!(
            sticky_listen(&listen, &[]),
            listen,
            "nothing saved: unchanged"
        );
        let relayed = addr(
            "/ip4/10.0.0.1/tcp/7000/p2p/12D3KooWEpq5JzxaGHuEbgjdkDKM2CZ6Fi5zmtYbP8SSLjj7iDx7/p2p-circuit/p2p/12D3KooWEpq5JzxaGHuEbgjdkDKM2CZ6Fi5zmtYbP8SSLjj7iDx7",
        );
        assert_eq!(
            sticky_listen(&listen, &[relayed]),
            listen,
            "a relay's port is not ours"
        );
    }

    #[test]
    fn tickets_keep_circuit_addresses_whole_and_listed() {
        let me: PeerId = "12D3KooWEpq5JzxaGHuEbgjdkDKM2CZ6Fi5zmtYbP8SSLjj7iDx7"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let relay = "12D3KooWAhoY4bMMRQXHLvXHumaB7wBaXPGbfbJNxomc8Uor1RBA";
        let circuit = addr(&format!(
            "/ip4/10.0.0.1/tcp/7000/p2p/{relay}/p2p-circuit/p2p/{me}"
        ));
        let mut listen: Vec<Multiaddr> = vec![addr("/ip4/127.0.0.1/tcp/4001")];
        for i in 0..10 {
            listen.push(addr(&format!("/ip4/192.168.1.{i}/tcp/4001")));
        }
        listen.push(circuit.clone());
        let addrs = ticket_addrs(&listen, me);
        assert_eq!(addrs.len(), MAX_TICKET_ADDRS);
        assert_eq!(addrs[0], format!("/ip4/192.168.1.0/tcp/4001/p2p/{me}"));
        assert!(
            addrs.contains(&circuit.to_string()),
            "the circuit address is kept as it is: {addrs:?}"
        );
        assert!(!addrs.iter().any(|a| a.contains("127.0.0.1")), "{addrs:?}");
        let few = ticket_addrs(&[addr("/ip4/127.0.0.1/tcp/4001"), circuit.clone()], me);
        assert_eq!(
            few,
            vec![
                circuit.to_string(),
                format!("/ip4/127.0.0.1/tcp/4001/p2p/{me}")
            ]
        );
    }
}
