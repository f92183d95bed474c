//! The node: one tokio task owns the Swarm; a cloneable handle talks to it over a bounded
//! command channel.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use futures::{AsyncWriteExt as _, StreamExt as _};
use libp2p::core::ConnectedPoint;
use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, Stream, StreamProtocol, Swarm, autonat, connection_limits, dcutr, identify,
    mdns, memory_connection_limits, noise, ping, quic, relay, tcp,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::backoff::Jitter;
use crate::config::{Backoff, NetConfig};
use crate::framing::{self, ReadError};
use crate::muxer::{BoundedYamux, STREAM_CREDIT};
use crate::{NetError, NetEvent};

/// The stream protocol that carries sync frames.
pub const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/cohort/sync/1");

/// Identify protocol version announced by Cohort nodes.
const IDENTIFY_VERSION: &str = "/cohort/1.0.0";

/// Lifecycle events (everything but frames and reader violations) buffered inside the node
/// while the application is slow to read; when full, the node stops polling the Swarm (but
/// keeps serving commands) until the application catches up.
const PENDING_EVENTS: usize = 256;

/// Inbound streams handed from the acceptor task to the node task.
const INBOUND_BUFFER: usize = 32;

/// A writer stops coalescing queued frames into one write beyond this many bytes.
const COALESCE_BYTES: usize = 256 * 1024;

/// How often due reconnects are checked.
const RECONNECT_TICK: Duration = Duration::from_millis(100);

/// How long [`Net::start`] waits for the listeners to report their addresses.
const LISTEN_WAIT: Duration = Duration::from_secs(5);

/// How often each connection is pinged, and how long a ping may take before the connection
/// counts as dead and is closed (a TCP connection across a cut link otherwise stays
/// "established" until the kernel gives up, many minutes later).
const PING_INTERVAL: Duration = Duration::from_secs(5);
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a relay server keeps one relayed circuit open, and how many bytes it forwards
/// over it (both directions together). libp2p's defaults (2 min, 128 KiB) suit a public relay
/// that only helps peers set up a direct connection; a cohort's always-on peer relays the sync
/// itself, and 128 KiB would cut a first sync off in its first documents. When a circuit
/// ends, both peers see the connection close and redial (a new circuit), and sync resumes
/// where it stopped.
const RELAY_CIRCUIT_DURATION: Duration = Duration::from_secs(60 * 60);
const RELAY_CIRCUIT_BYTES: u64 = 1 << 30;

/// First wait before asking a relay again after a reservation failed or ended while still
/// connected to it; doubles with each failure up to `RELAY_RETRY_MAX`.
const RELAY_RETRY: Duration = Duration::from_secs(10);
const RELAY_RETRY_MAX: Duration = Duration::from_secs(10 * 60);

#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    memory: memory_connection_limits::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
    autonat: autonat::Behaviour,
    relay_client: relay::client::Behaviour,
    dcutr: dcutr::Behaviour,
    relay_server: Toggle<relay::Behaviour>,
    stream: libp2p_stream::Behaviour,
}

/// Entry point: starts a node.
#[derive(Debug)]
pub struct Net;

impl Net {
    /// Builds the Swarm, binds the listen addresses (waiting until each reports an address,
    /// at most 5 s), and spawns the task that owns it. Must be called inside a tokio runtime.
    ///
    /// Returns the handle and the bounded event receiver. Drain the receiver: a node whose
    /// events are not read stops reading frames from peers (backpressure to them) and,
    /// after 256 buffered lifecycle events, stops polling the network.
    ///
    /// # Errors
    /// [`NetError::Config`] for an invalid configuration, [`NetError::Build`] if a transport
    /// or behaviour cannot be built, [`NetError::Listen`] if an address cannot be bound.
    pub async fn start(
        config: NetConfig,
    ) -> Result<(NetHandle, mpsc::Receiver<NetEvent>), NetError> {
        config.validate()?;
        let mut swarm = build_swarm(&config)?;
        let local_peer_id = *swarm.local_peer_id();

        let mut control = swarm.behaviour().stream.new_control();
        let incoming = control
            .accept(SYNC_PROTOCOL)
            .map_err(|e| NetError::Build(e.to_string()))?;

        let mut pending = VecDeque::new();
        listen(
            &mut swarm,
            &config.listen,
            config.relay_server,
            &mut pending,
        )
        .await?;

        let (command_tx, command_rx) = mpsc::channel(config.command_queue);
        let (event_tx, event_rx) = mpsc::channel(config.event_queue);

        let mut node = Node {
            swarm,
            control,
            commands: command_rx,
            events: event_tx,
            pending,
            peers: HashMap::new(),
            inbound: HashMap::new(),
            wanted: HashMap::new(),
            dials: HashMap::new(),
            tasks: JoinSet::new(),
            next_writer_id: 0,
            live_writers: 0,
            jitter: Jitter::new(config.backoff.seed),
            backoff: config.backoff,
            max_frame: config.max_frame,
            outbound_queue: config.outbound_queue,
            max_inbound: config.max_inbound_streams_per_peer,
            frame_stall_timeout: config.frame_stall_timeout,
            shutdown_grace: config.shutdown_grace,
            conns: HashMap::new(),
            relays: HashMap::new(),
            relay_server: config.relay_server,
            max_relays: config.max_relays,
        };
        for addr in config.known_peers {
            node.add_initial_peer(addr);
        }
        // libp2p-stream holds one inbound stream at a time and drops the next if it has not
        // been taken yet; a task that does nothing but take them keeps that window short.
        let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_BUFFER);
        let acceptor = tokio::spawn(accept_streams(incoming, inbound_tx));
        tokio::spawn(node.run(inbound_rx, acceptor));

        let handle = NetHandle {
            commands: command_tx,
            local_peer_id,
            max_frame: config.max_frame,
        };
        Ok((handle, event_rx))
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn build_swarm(config: &NetConfig) -> Result<Swarm<Behaviour>, NetError> {
    let build = |e: &dyn std::fmt::Display| NetError::Build(e.to_string());
    let muxer = BoundedYamux::new(config.max_yamux_streams, config.max_connection_window);
    let relay_muxer = muxer.clone();
    let quic = quic_limits(config);
    let mdns_on = config.mdns;
    let relay_on = config.relay_server;
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established(Some(config.max_connections))
        .with_max_established_per_peer(Some(config.max_connections_per_peer))
        .with_max_pending_incoming(Some(config.max_pending_connections))
        .with_max_pending_outgoing(Some(config.max_pending_connections));
    let memory_fraction = config.max_memory_fraction;
    let idle = config.idle_timeout;

    let swarm = libp2p::SwarmBuilder::with_existing_identity(config.keypair.clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            move || muxer,
        )
        .map_err(|e| build(&e))?
        .with_quic_config(|c| quic.apply(c))
        .with_relay_client(noise::Config::new, move || relay_muxer)
        .map_err(|e| build(&e))?
        .with_behaviour(|key, relay_client| -> Result<Behaviour, BoxError> {
            let peer_id = key.public().to_peer_id();
            let mdns = if mdns_on {
                Some(mdns::tokio::Behaviour::new(
                    mdns::Config::default(),
                    peer_id,
                )?)
            } else {
                None
            };
            let relay_server = relay_on.then(|| relay::Behaviour::new(peer_id, relay_config()));
            Ok(Behaviour {
                limits: connection_limits::Behaviour::new(limits),
                memory: memory_connection_limits::Behaviour::with_max_percentage(memory_fraction),
                identify: identify::Behaviour::new(identify::Config::new(
                    IDENTIFY_VERSION.to_owned(),
                    key.public(),
                )),
                ping: ping::Behaviour::new(
                    ping::Config::new()
                        .with_interval(PING_INTERVAL)
                        .with_timeout(PING_TIMEOUT),
                ),
                mdns: Toggle::from(mdns),
                autonat: autonat::Behaviour::new(peer_id, autonat::Config::default()),
                relay_client,
                dcutr: dcutr::Behaviour::new(peer_id),
                relay_server: Toggle::from(relay_server),
                stream: libp2p_stream::Behaviour::new(),
            })
        })
        .map_err(|e| build(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
        .build();
    Ok(swarm)
}

/// The relay server's limits: libp2p's defaults (at most 128 reservations, 4 per peer, each
/// for an hour; at most 16 circuits, 4 per peer; reservations and circuits rate-limited per
/// peer and per IP address) except the length and size of one circuit, raised so a sync can
/// run over it (see [`RELAY_CIRCUIT_DURATION`]). Any peer may reserve: the relay cannot read
/// what it forwards (each relayed connection is end-to-end Noise), and these limits bound
/// what one peer can take from it.
fn relay_config() -> relay::Config {
    relay::Config {
        max_circuit_duration: RELAY_CIRCUIT_DURATION,
        max_circuit_bytes: RELAY_CIRCUIT_BYTES,
        ..relay::Config::default()
    }
}

/// QUIC's flow-control limits, matching what yamux allows on a TCP connection.
#[derive(Clone, Copy)]
struct QuicLimits {
    streams: u32,
    connection: u32,
    stream: u32,
}

impl QuicLimits {
    fn apply(self, mut c: quic::Config) -> quic::Config {
        c.max_concurrent_stream_limit = self.streams;
        c.max_connection_data = self.connection;
        c.max_stream_data = self.stream;
        c
    }
}

fn quic_limits(config: &NetConfig) -> QuicLimits {
    let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    // As with yamux: one stream may use the shared part of the window beyond every stream's
    // initial credit.
    let shared = config
        .max_connection_window
        .saturating_sub(config.max_yamux_streams.saturating_mul(STREAM_CREDIT));
    QuicLimits {
        streams: to_u32(config.max_yamux_streams),
        connection: to_u32(config.max_connection_window),
        stream: to_u32(STREAM_CREDIT.saturating_add(shared)),
    }
}

/// Binds every listen address and waits until each listener reported an address (or failed).
async fn listen(
    swarm: &mut Swarm<Behaviour>,
    addrs: &[Multiaddr],
    relay_server: bool,
    pending: &mut VecDeque<NetEvent>,
) -> Result<(), NetError> {
    let mut waiting = HashMap::new();
    for addr in addrs {
        let id = swarm
            .listen_on(addr.clone())
            .map_err(|e| NetError::Listen {
                addr: addr.to_string(),
                reason: e.to_string(),
            })?;
        waiting.insert(id, addr.clone());
    }
    let deadline = Instant::now() + LISTEN_WAIT;
    while !waiting.is_empty() {
        let event = match tokio::time::timeout_at(deadline, swarm.next()).await {
            Ok(Some(event)) => event,
            Ok(None) | Err(_) => break,
        };
        match event {
            SwarmEvent::NewListenAddr {
                listener_id,
                address,
            } => {
                waiting.remove(&listener_id);
                announce_if_relay(swarm, relay_server, &address);
                pending.push_back(NetEvent::ListenAddr(address));
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => {
                if let Some(addr) = waiting.remove(&listener_id) {
                    return Err(NetError::Listen {
                        addr: addr.to_string(),
                        reason: match reason {
                            Ok(()) => "listener closed".to_owned(),
                            Err(e) => e.to_string(),
                        },
                    });
                }
            }
            SwarmEvent::ListenerError { listener_id, error } => {
                if let Some(addr) = waiting.remove(&listener_id) {
                    return Err(NetError::Listen {
                        addr: addr.to_string(),
                        reason: error.to_string(),
                    });
                }
            }
            other => tracing::debug!(?other, "swarm event while binding listeners"),
        }
    }
    Ok(())
}

/// On a relay server, makes a listen address an external (reachable) address. The relay
/// answers a reservation with its external addresses, from which the reserving peer makes its
/// circuit addresses (and libp2p refuses a reservation that carries none), and it only
/// speaks the hop protocol while it has one. AutoNAT cannot confirm private addresses, and
/// an always-on peer's operator chose these to be reached at.
fn announce_if_relay(swarm: &mut Swarm<Behaviour>, relay_server: bool, addr: &Multiaddr) {
    if relay_server && !is_relayed(addr) {
        swarm.add_external_address(addr.clone());
    }
}

/// Whether `addr` goes through a relay (holds `/p2p-circuit`).
fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::P2pCircuit))
}

/// `addr` without a trailing `/p2p/<id>`.
fn without_peer(addr: &Multiaddr) -> Multiaddr {
    let mut addr = addr.clone();
    if matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
        addr.pop();
    }
    addr
}

/// `addr` ending in `/p2p/<peer>` (appended unless it ends in a `/p2p/` already). A circuit
/// address must end in its destination, or the relay would not know whom to connect to.
fn with_peer(addr: &Multiaddr, peer: PeerId) -> Multiaddr {
    match addr.iter().last() {
        Some(Protocol::P2p(_)) => addr.clone(),
        _ => addr.clone().with(Protocol::P2p(peer)),
    }
}

/// A cloneable client of a running node. Every method sends one command over a bounded
/// channel and awaits the node's reply; after [`NetHandle::shutdown`] (or if the node task
/// is gone) methods return [`NetError::Closed`].
#[derive(Debug, Clone)]
pub struct NetHandle {
    commands: mpsc::Sender<Command>,
    local_peer_id: PeerId,
    max_frame: usize,
}

type Reply<T> = oneshot::Sender<T>;

enum Command {
    Dial {
        addr: Multiaddr,
        reply: Reply<Result<PeerId, NetError>>,
    },
    ListenAddrs {
        reply: Reply<Vec<Multiaddr>>,
    },
    Writer {
        peer: PeerId,
        reply: Reply<Result<mpsc::Sender<Vec<u8>>, NetError>>,
    },
    QueuedFrames {
        peer: PeerId,
        reply: Reply<Option<usize>>,
    },
    Disconnect {
        peer: PeerId,
        reply: Reply<()>,
    },
    ConnectedPeers {
        reply: Reply<Vec<PeerId>>,
    },
    AddKnownPeer {
        peer: PeerId,
        addr: Multiaddr,
        reply: Reply<()>,
    },
    RemoveKnownPeer {
        peer: PeerId,
        reply: Reply<()>,
    },
    Shutdown {
        reply: Reply<()>,
    },
}

impl NetHandle {
    async fn request<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, NetError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(make(reply))
            .await
            .map_err(|_| NetError::Closed)?;
        answer.await.map_err(|_| NetError::Closed)
    }

    /// This node's PeerId (answered locally).
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// The maximum frame length this node sends and accepts.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Dials `addr` and waits until the connection is established (returning the remote
    /// PeerId) or fails. An address ending in `/p2p/<id>` is checked against that id.
    ///
    /// # Errors
    /// [`NetError::Dial`] if the dial fails or is denied by a connection limit.
    pub async fn dial(&self, addr: Multiaddr) -> Result<PeerId, NetError> {
        self.request(|reply| Command::Dial { addr, reply }).await?
    }

    /// The addresses the node currently listens on (with actual ports).
    ///
    /// # Errors
    /// [`NetError::Closed`] after shutdown.
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, NetError> {
        self.request(|reply| Command::ListenAddrs { reply }).await
    }

    /// Queues `frame` on `peer`'s outbound stream. Waits while that peer's bounded queue is
    /// full (a slow peer slows its senders; memory does not grow). `Ok` means queued: the
    /// frame is lost if the connection drops before it is written.
    ///
    /// # Errors
    /// [`NetError::FrameTooLarge`] above `max_frame`, [`NetError::NotConnected`] if the peer
    /// has no connection (or loses it while the frame waits).
    pub async fn send(&self, peer: PeerId, frame: Vec<u8>) -> Result<(), NetError> {
        if frame.len() > self.max_frame {
            return Err(NetError::FrameTooLarge {
                len: frame.len(),
                max: self.max_frame,
            });
        }
        let writer = self
            .request(|reply| Command::Writer { peer, reply })
            .await??;
        writer
            .send(frame)
            .await
            .map_err(|_| NetError::NotConnected(peer))
    }

    /// Frames waiting in `peer`'s outbound queue (`None` if it has no writer): never more
    /// than the configured `outbound_queue`.
    ///
    /// # Errors
    /// [`NetError::Closed`] after shutdown.
    pub async fn queued_frames(&self, peer: PeerId) -> Result<Option<usize>, NetError> {
        self.request(|reply| Command::QueuedFrames { peer, reply })
            .await
    }

    /// Closes every connection to `peer` and stops reconnecting to it (it is removed from
    /// the known peers). [`NetEvent::PeerDisconnected`] follows once the connections close.
    ///
    /// # Errors
    /// [`NetError::Closed`] after shutdown.
    pub async fn disconnect(&self, peer: PeerId) -> Result<(), NetError> {
        self.request(|reply| Command::Disconnect { peer, reply })
            .await
    }

    /// Peers with at least one established connection, sorted.
    ///
    /// # Errors
    /// [`NetError::Closed`] after shutdown.
    pub async fn connected_peers(&self) -> Result<Vec<PeerId>, NetError> {
        self.request(|reply| Command::ConnectedPeers { reply })
            .await
    }

    /// Makes `peer` a known peer reachable at `addr` (more addresses accumulate): the node
    /// dials it now if not connected and, whenever it is not connected, keeps redialing with
    /// the configured jittered exponential backoff until [`NetHandle::remove_known_peer`]
    /// or [`NetHandle::disconnect`].
    ///
    /// # Errors
    /// [`NetError::Closed`] after shutdown.
    pub async fn add_known_peer(&self, peer: PeerId, addr: Multiaddr) -> Result<(), NetError> {
        self.request(|reply| Command::AddKnownPeer { peer, addr, reply })
            .await
    }

    /// Stops reconnecting to `peer` (an open connection stays open).
    ///
    /// # Errors
    /// [`NetError::Closed`] after shutdown.
    pub async fn remove_known_peer(&self, peer: PeerId) -> Result<(), NetError> {
        self.request(|reply| Command::RemoveKnownPeer { peer, reply })
            .await
    }

    /// Graceful stop: queued frames get up to `shutdown_grace` to be written, streams are
    /// closed, connections are closed, then the task ends and the event channel closes.
    /// Calling it on an already stopped node is `Ok`.
    ///
    /// # Errors
    /// None in practice; the signature leaves room for one.
    pub async fn shutdown(&self) -> Result<(), NetError> {
        match self.request(|reply| Command::Shutdown { reply }).await {
            Ok(()) | Err(NetError::Closed) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

struct PeerState {
    /// Connections currently established.
    connections: usize,
    /// The writer feeding the long-lived outbound stream, with its id.
    writer: Option<(u64, mpsc::Sender<Vec<u8>>)>,
}

struct Wanted {
    addrs: Vec<Multiaddr>,
    attempt: u32,
    /// When to dial next; `None` while connected or a dial is in flight.
    next: Option<Instant>,
}

/// A relay this node reserves a circuit address on.
struct Relay {
    /// Where the relay is reached (without `/p2p/`): the reservation is asked for at
    /// `<base>/p2p/<relay>/p2p-circuit`, and peers connecting through it are reached back at
    /// `<base>/p2p/<relay>/p2p-circuit/p2p/<peer>`.
    base: Multiaddr,
    state: RelayState,
    /// Reservations that failed or ended in a row (the retry backoff).
    failures: u32,
}

#[derive(Clone, Copy)]
enum RelayState {
    /// The circuit listener is asking the relay for a reservation.
    Reserving(ListenerId),
    /// The relay accepted: the listener has circuit addresses (libp2p renews the
    /// reservation before it expires).
    Reserved(ListenerId),
    /// Ask again at this time (if still connected to the relay).
    Waiting(Instant),
}

impl Relay {
    fn listener(&self) -> Option<ListenerId> {
        match self.state {
            RelayState::Reserving(id) | RelayState::Reserved(id) => Some(id),
            RelayState::Waiting(_) => None,
        }
    }
}

enum TaskDone {
    /// `broken`: the stream failed after it was open (frames may be lost).
    Writer {
        peer: PeerId,
        id: u64,
        broken: bool,
    },
    Reader {
        peer: PeerId,
    },
}

struct Node {
    swarm: Swarm<Behaviour>,
    control: libp2p_stream::Control,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetEvent>,
    /// Lifecycle events waiting for room in `events` (at most `PENDING_EVENTS`).
    pending: VecDeque<NetEvent>,
    peers: HashMap<PeerId, PeerState>,
    /// Open inbound sync streams per peer.
    inbound: HashMap<PeerId, usize>,
    wanted: HashMap<PeerId, Wanted>,
    dials: HashMap<ConnectionId, Reply<Result<PeerId, NetError>>>,
    tasks: JoinSet<TaskDone>,
    next_writer_id: u64,
    /// Writer tasks still running.
    live_writers: usize,
    jitter: Jitter,
    backoff: Backoff,
    max_frame: usize,
    outbound_queue: usize,
    max_inbound: usize,
    frame_stall_timeout: Duration,
    shutdown_grace: Duration,
    /// Every established connection: its peer and endpoint.
    conns: HashMap<ConnectionId, (PeerId, ConnectedPoint)>,
    /// Relays this node holds (or asks for) a circuit reservation on.
    relays: HashMap<PeerId, Relay>,
    relay_server: bool,
    max_relays: usize,
}

impl Node {
    async fn run(
        mut self,
        mut incoming: mpsc::Receiver<(PeerId, Stream)>,
        acceptor: tokio::task::JoinHandle<()>,
    ) {
        let mut tick = tokio::time::interval(RECONNECT_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A second sender so that reserving room does not borrow `self`.
        let events = self.events.clone();
        let shutdown_reply = loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown { reply }) => break Some(reply),
                    Some(command) => self.on_command(command),
                    None => break None,
                },
                Some(event) = self.swarm.next(), if self.pending.len() < PENDING_EVENTS => {
                    self.on_swarm_event(event);
                }
                Some((peer, stream)) = incoming.recv() => self.on_inbound_stream(peer, stream),
                Some(done) = self.tasks.join_next() => self.on_task_done(done),
                permit = events.reserve(), if !self.pending.is_empty() => match permit {
                    Ok(permit) => {
                        if let Some(event) = self.pending.pop_front() {
                            permit.send(event);
                        }
                    }
                    // The application dropped its receiver: events go nowhere.
                    Err(_) => self.pending.clear(),
                },
                _ = tick.tick() => {
                    self.redial_due();
                    self.retry_relays();
                }
            }
        };
        acceptor.abort();
        drop(incoming);
        self.shutdown().await;
        if let Some(reply) = shutdown_reply {
            let _ = reply.send(());
        }
    }

    fn emit(&mut self, event: NetEvent) {
        if self.events.is_closed() {
            return;
        }
        self.pending.push_back(event);
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Dial { addr, reply } => {
                let opts = DialOpts::from(addr);
                let id = opts.connection_id();
                match self.swarm.dial(opts) {
                    Ok(()) => {
                        self.dials.insert(id, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(NetError::Dial(e.to_string())));
                    }
                }
            }
            Command::ListenAddrs { reply } => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::Writer { peer, reply } => {
                let _ = reply.send(self.writer_for(peer));
            }
            Command::QueuedFrames { peer, reply } => {
                let queued = self
                    .peers
                    .get(&peer)
                    .and_then(|p| p.writer.as_ref())
                    .map(|(_, tx)| tx.max_capacity() - tx.capacity());
                let _ = reply.send(queued);
            }
            Command::Disconnect { peer, reply } => {
                self.wanted.remove(&peer);
                if let Some(state) = self.peers.get_mut(&peer) {
                    state.writer = None;
                }
                let _ = self.swarm.disconnect_peer_id(peer);
                let _ = reply.send(());
            }
            Command::ConnectedPeers { reply } => {
                let mut peers: Vec<PeerId> = self.peers.keys().copied().collect();
                peers.sort();
                let _ = reply.send(peers);
            }
            Command::AddKnownPeer { peer, addr, reply } => {
                self.add_known_peer(peer, addr);
                let _ = reply.send(());
            }
            Command::RemoveKnownPeer { peer, reply } => {
                self.wanted.remove(&peer);
                let _ = reply.send(());
            }
            // Handled by the loop.
            Command::Shutdown { reply } => {
                let _ = reply.send(());
            }
        }
    }

    fn add_initial_peer(&mut self, addr: Multiaddr) {
        match addr.iter().last() {
            Some(Protocol::P2p(peer)) => self.add_known_peer(peer, addr),
            _ => {
                if let Err(e) = self.swarm.dial(addr.clone()) {
                    tracing::warn!(%addr, error = %e, "could not dial bootstrap address");
                }
            }
        }
    }

    fn add_known_peer(&mut self, peer: PeerId, addr: Multiaddr) {
        let addr = if is_relayed(&addr) {
            with_peer(&addr, peer)
        } else {
            addr
        };
        let connected = self.peers.contains_key(&peer);
        let wanted = self.wanted.entry(peer).or_insert_with(|| Wanted {
            addrs: Vec::new(),
            attempt: 0,
            next: None,
        });
        if !wanted.addrs.contains(&addr) {
            wanted.addrs.push(addr);
        }
        if !connected {
            wanted.attempt = 0;
            wanted.next = Some(Instant::now());
        }
    }

    /// Dials every known peer whose backoff has expired.
    fn redial_due(&mut self) {
        let now = Instant::now();
        let due: Vec<(PeerId, Vec<Multiaddr>)> = self
            .wanted
            .iter_mut()
            .filter(|(_, w)| w.next.is_some_and(|t| t <= now))
            .map(|(peer, w)| {
                w.next = None;
                (*peer, w.addrs.clone())
            })
            .collect();
        for (peer, addrs) in due {
            if self.peers.contains_key(&peer) {
                continue;
            }
            tracing::debug!(%peer, "redialing known peer");
            let opts = DialOpts::peer_id(peer)
                .addresses(addrs)
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(e) = self.swarm.dial(opts) {
                tracing::debug!(%peer, error = %e, "redial not started");
                self.schedule_redial(peer);
            }
        }
    }

    fn schedule_redial(&mut self, peer: PeerId) {
        if self.peers.contains_key(&peer) {
            return;
        }
        if let Some(wanted) = self.wanted.get_mut(&peer) {
            let delay = self.jitter.delay(&self.backoff, wanted.attempt);
            wanted.attempt = wanted.attempt.saturating_add(1);
            wanted.next = Some(Instant::now() + delay);
            tracing::debug!(%peer, ?delay, attempt = wanted.attempt, "reconnect scheduled");
        }
    }

    /// The queue of `peer`'s writer, starting a writer if the peer is connected but has none.
    fn writer_for(&mut self, peer: PeerId) -> Result<mpsc::Sender<Vec<u8>>, NetError> {
        let Some(state) = self.peers.get_mut(&peer) else {
            return Err(NetError::NotConnected(peer));
        };
        if let Some((_, tx)) = &state.writer
            && !tx.is_closed()
        {
            return Ok(tx.clone());
        }
        let (tx, rx) = mpsc::channel(self.outbound_queue);
        let id = self.next_writer_id;
        self.next_writer_id += 1;
        state.writer = Some((id, tx.clone()));
        let control = self.control.clone();
        self.live_writers += 1;
        self.tasks.spawn(run_writer(control, peer, id, rx));
        Ok(tx)
    }

    fn on_inbound_stream(&mut self, peer: PeerId, stream: Stream) {
        let open = self.inbound.entry(peer).or_insert(0);
        if *open >= self.max_inbound {
            tracing::debug!(%peer, "refusing inbound stream over the per-peer limit");
            let limit = self.max_inbound;
            // Dropping the stream resets it.
            drop(stream);
            self.emit(NetEvent::ProtocolViolation {
                peer,
                reason: format!("more than {limit} concurrent inbound sync streams"),
            });
            return;
        }
        *open += 1;
        self.tasks.spawn(run_reader(
            peer,
            stream,
            self.max_frame,
            self.frame_stall_timeout,
            self.events.clone(),
        ));
    }

    fn on_task_done(&mut self, done: Result<TaskDone, tokio::task::JoinError>) {
        match done {
            Ok(TaskDone::Reader { peer }) => {
                if let Some(open) = self.inbound.get_mut(&peer) {
                    *open = open.saturating_sub(1);
                    if *open == 0 {
                        self.inbound.remove(&peer);
                    }
                }
            }
            Ok(TaskDone::Writer { peer, id, broken }) => {
                self.live_writers = self.live_writers.saturating_sub(1);
                let current = self
                    .peers
                    .get(&peer)
                    .and_then(|state| state.writer.as_ref())
                    .is_some_and(|(w, _)| *w == id);
                if !current {
                    return;
                }
                if let Some(state) = self.peers.get_mut(&peer) {
                    state.writer = None;
                }
                if broken {
                    // Frames already taken from the queue may never arrive, and the peer's
                    // sessions rely on an unbroken stream. This happens when the stream's
                    // connection closes while another connection to the peer stays up
                    // (both sides dialed at once, or dials to several of the peer's
                    // addresses reached it twice): nobody would see a disconnect, and both
                    // sides would wait forever. Close every connection instead; the peer
                    // stays wanted, so it is redialed and both sides start afresh.
                    tracing::info!(%peer, "sync stream broke; reconnecting to the peer");
                    let _ = self.swarm.disconnect_peer_id(peer);
                }
            }
            Err(e) => tracing::warn!(error = %e, "network task failed"),
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr {
                listener_id,
                address,
            } => {
                if let Some((peer, relay)) = self
                    .relays
                    .iter_mut()
                    .find(|(_, r)| r.listener() == Some(listener_id))
                {
                    relay.state = RelayState::Reserved(listener_id);
                    relay.failures = 0;
                    tracing::info!(relay = %peer, %address, "relay reservation accepted");
                }
                announce_if_relay(&mut self.swarm, self.relay_server, &address);
                self.emit(NetEvent::ListenAddr(address));
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => self.listen_addr_gone(address),
            SwarmEvent::ListenerClosed {
                listener_id,
                addresses,
                reason,
            } => {
                for address in addresses {
                    self.listen_addr_gone(address);
                }
                self.relay_listener_closed(listener_id, reason.err());
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                if let Some(reply) = self.dials.remove(&connection_id) {
                    let _ = reply.send(Ok(peer_id));
                }
                if let Some(wanted) = self.wanted.get_mut(&peer_id) {
                    wanted.attempt = 0;
                    wanted.next = None;
                }
                let addr = self.peer_addr(peer_id, &endpoint);
                self.conns.insert(connection_id, (peer_id, endpoint));
                let state = self.peers.entry(peer_id).or_insert_with(|| PeerState {
                    connections: 0,
                    writer: None,
                });
                state.connections += 1;
                if state.connections == 1 {
                    tracing::debug!(peer = %peer_id, %addr, "peer connected");
                    self.emit(NetEvent::PeerConnected {
                        peer: peer_id,
                        addr,
                    });
                    // Open the long-lived outbound stream now: it keeps the connection
                    // alive while both sides speak the sync protocol.
                    let _ = self.writer_for(peer_id);
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                cause,
                ..
            } => {
                self.conns.remove(&connection_id);
                self.forget_relay_if_gone(peer_id);
                let gone = match self.peers.get_mut(&peer_id) {
                    Some(state) => {
                        state.connections = state.connections.saturating_sub(1);
                        num_established == 0 || state.connections == 0
                    }
                    None => false,
                };
                if gone {
                    tracing::debug!(peer = %peer_id, ?cause, "peer disconnected");
                    self.peers.remove(&peer_id);
                    self.emit(NetEvent::PeerDisconnected { peer: peer_id });
                    self.schedule_redial(peer_id);
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                peer_id,
                error,
            } => {
                if let Some(reply) = self.dials.remove(&connection_id) {
                    let _ = reply.send(Err(NetError::Dial(error.to_string())));
                }
                if let Some(peer) = peer_id {
                    tracing::debug!(%peer, error = %error, "outgoing connection failed");
                    if self.wanted.get(&peer).is_some_and(|w| w.next.is_none()) {
                        self.schedule_redial(peer);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(list))) => {
                let mut by_peer: BTreeMap<PeerId, Vec<Multiaddr>> = BTreeMap::new();
                for (peer, addr) in list {
                    by_peer.entry(peer).or_default().push(addr);
                }
                for (peer, addrs) in by_peer {
                    for addr in &addrs {
                        self.swarm.add_peer_address(peer, addr.clone());
                    }
                    self.emit(NetEvent::Discovered { peer, addrs });
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                connection,
                result: Err(error),
            })) => {
                // A peer that does not speak ping is not dead; one that stops answering is.
                if !matches!(error, ping::Failure::Unsupported) {
                    tracing::debug!(%peer, %error, "ping failed; closing the connection");
                    self.swarm.close_connection(connection);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                connection_id,
                info,
            })) => {
                if info.protocol_version == IDENTIFY_VERSION {
                    self.on_identified(peer_id, connection_id, &info);
                    for addr in info.listen_addrs {
                        self.swarm.add_peer_address(peer_id, addr);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::RelayClient(event)) => match event {
                relay::client::Event::InboundCircuitEstablished { src_peer_id, .. } => {
                    tracing::debug!(peer = %src_peer_id, "a peer connected through a relay");
                }
                relay::client::Event::OutboundCircuitEstablished { relay_peer_id, .. } => {
                    tracing::debug!(relay = %relay_peer_id, "connected to a peer through a relay");
                }
                other @ relay::client::Event::ReservationReqAccepted { .. } => {
                    tracing::debug!(?other, "relay client");
                }
            },
            SwarmEvent::Behaviour(BehaviourEvent::RelayServer(event)) => match event {
                relay::Event::CircuitReqAccepted {
                    src_peer_id,
                    dst_peer_id,
                } => {
                    tracing::info!(src = %src_peer_id, dst = %dst_peer_id, "relaying a circuit");
                }
                relay::Event::CircuitClosed {
                    src_peer_id,
                    dst_peer_id,
                    error,
                } => {
                    tracing::info!(src = %src_peer_id, dst = %dst_peer_id, ?error, "relayed circuit closed");
                }
                relay::Event::ReservationReqAccepted {
                    src_peer_id,
                    renewed: false,
                } => {
                    tracing::info!(peer = %src_peer_id, "relay reservation granted");
                }
                other => tracing::debug!(?other, "relay server"),
            },
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(dcutr::Event {
                remote_peer_id,
                result,
            })) => match result {
                Ok(_) => {
                    tracing::info!(peer = %remote_peer_id, "direct connection made after a relayed one (hole punching)");
                }
                Err(error) => {
                    tracing::debug!(peer = %remote_peer_id, %error, "hole punching failed; staying relayed");
                }
            },
            other => tracing::trace!(?other, "swarm event"),
        }
    }

    /// The address a connection's peer can be dialed back at, as far as this node knows: the
    /// remote address, except that a relayed connection's is the whole circuit address
    /// (`<relay address>/p2p/<relay>/p2p-circuit/p2p/<peer>`), which is what a dial through
    /// the relay needs (libp2p gives a relayed listener only `/p2p/<peer>`).
    fn peer_addr(&self, peer: PeerId, endpoint: &ConnectedPoint) -> Multiaddr {
        match endpoint {
            ConnectedPoint::Dialer { address, .. } if is_relayed(address) => {
                with_peer(address, peer)
            }
            ConnectedPoint::Listener { local_addr, .. } if is_relayed(local_addr) => {
                self.circuit_to(local_addr, peer)
            }
            other => other.get_remote_address().clone(),
        }
    }

    /// The circuit address of `peer`, who connected through the relay whose circuit we
    /// listen on at `local_addr` (`<address of the relay connection>/p2p-circuit`).
    fn circuit_to(&self, local_addr: &Multiaddr, peer: PeerId) -> Multiaddr {
        let prefix: Multiaddr = local_addr
            .iter()
            .take_while(|p| !matches!(p, Protocol::P2pCircuit))
            .collect();
        let relay = match prefix.iter().last() {
            Some(Protocol::P2p(relay)) => Some(relay),
            // The relay connection's remote address, without its id: find that connection.
            _ => self
                .conns
                .values()
                .find(|(_, e)| !e.is_relayed() && *e.get_remote_address() == prefix)
                .map(|(relay, _)| *relay),
        };
        let Some(relay) = relay else {
            return with_peer(local_addr, peer);
        };
        let base = self
            .relays
            .get(&relay)
            .map_or_else(|| without_peer(&prefix), |r| r.base.clone());
        base.with(Protocol::P2p(relay))
            .with(Protocol::P2pCircuit)
            .with(Protocol::P2p(peer))
    }

    /// Whether `peer` has a connection that does not go through a relay.
    fn directly_connected(&self, peer: PeerId) -> bool {
        self.conns
            .values()
            .any(|(p, e)| *p == peer && !e.is_relayed())
    }

    /// Relays with a reservation made or being asked for.
    fn active_relays(&self) -> usize {
        self.relays
            .values()
            .filter(|r| r.listener().is_some())
            .count()
    }

    /// A peer told us what it is: if it relays (speaks the circuit relay v2 hop protocol),
    /// is directly connected, and we use fewer than `max_relays`, reserve a circuit on it.
    fn on_identified(&mut self, peer: PeerId, connection: ConnectionId, info: &identify::Info) {
        if self.relay_server || self.max_relays == 0 {
            return;
        }
        if !info.protocols.contains(&relay::HOP_PROTOCOL_NAME) {
            // It stopped relaying (restarted without it): its reservation is gone or going.
            if let Some(listener) = self.relays.remove(&peer).and_then(|r| r.listener()) {
                self.swarm.remove_listener(listener);
            }
            return;
        }
        if self.relays.contains_key(&peer) || self.active_relays() >= self.max_relays {
            return;
        }
        let Some((_, endpoint)) = self.conns.get(&connection) else {
            return;
        };
        if endpoint.is_relayed() {
            return;
        }
        let base = match endpoint {
            // The address we reached it at.
            ConnectedPoint::Dialer { address, .. } => without_peer(address),
            // It dialed us: an address we know for it, or one it listens on.
            ConnectedPoint::Listener { send_back_addr, .. } => self
                .wanted
                .get(&peer)
                .and_then(|w| w.addrs.iter().find(|a| !is_relayed(a)))
                .or_else(|| {
                    let direct = || info.listen_addrs.iter().filter(|a| !is_relayed(a));
                    direct()
                        .find(|a| !is_loopback(a))
                        .or_else(|| direct().next())
                })
                .map_or_else(|| send_back_addr.clone(), without_peer),
        };
        self.relays.insert(
            peer,
            Relay {
                base,
                state: RelayState::Waiting(Instant::now()),
                failures: 0,
            },
        );
        self.reserve(peer);
    }

    /// Asks `peer` (a known relay) for a reservation: listens on its circuit address.
    fn reserve(&mut self, peer: PeerId) {
        let Some(relay) = self.relays.get_mut(&peer) else {
            return;
        };
        let addr = relay
            .base
            .clone()
            .with(Protocol::P2p(peer))
            .with(Protocol::P2pCircuit);
        match self.swarm.listen_on(addr.clone()) {
            Ok(listener) => {
                tracing::info!(relay = %peer, %addr, "asking a relay for a circuit address");
                relay.state = RelayState::Reserving(listener);
            }
            Err(e) => {
                relay.failures = relay.failures.saturating_add(1);
                let delay = relay_retry(relay.failures);
                tracing::info!(relay = %peer, %addr, error = %e, ?delay, "cannot listen through a relay");
                relay.state = RelayState::Waiting(Instant::now() + delay);
            }
        }
    }

    /// Asks relays again whose retry time has come, if still directly connected to them.
    fn retry_relays(&mut self) {
        let now = Instant::now();
        let due: Vec<PeerId> = self
            .relays
            .iter()
            .filter(|(_, r)| matches!(r.state, RelayState::Waiting(t) if t <= now))
            .map(|(peer, _)| *peer)
            .collect();
        for peer in due {
            if !self.directly_connected(peer) {
                // Reserved again once it reconnects and identifies itself.
                self.relays.remove(&peer);
            } else if self.active_relays() >= self.max_relays {
                if let Some(relay) = self.relays.get_mut(&peer) {
                    relay.state = RelayState::Waiting(now + RELAY_RETRY);
                }
            } else {
                self.reserve(peer);
            }
        }
    }

    /// A listener closed: if it was a relay's, the reservation is over (refused, not
    /// renewed, or the relay connection closed); ask again later while connected.
    fn relay_listener_closed(&mut self, listener: ListenerId, error: Option<std::io::Error>) {
        let Some((peer, relay)) = self
            .relays
            .iter_mut()
            .find(|(_, r)| r.listener() == Some(listener))
        else {
            return;
        };
        relay.failures = relay.failures.saturating_add(1);
        let delay = relay_retry(relay.failures);
        relay.state = RelayState::Waiting(Instant::now() + delay);
        match error {
            Some(error) => {
                tracing::info!(relay = %peer, %error, ?delay, "relay reservation failed");
            }
            None => tracing::info!(relay = %peer, ?delay, "relay reservation ended"),
        }
    }

    /// Once no direct connection to a relay is left, its reservation is gone: close its
    /// listener (its addresses expire) and reserve anew when it reconnects.
    fn forget_relay_if_gone(&mut self, peer: PeerId) {
        if !self.relays.contains_key(&peer) || self.directly_connected(peer) {
            return;
        }
        if let Some(listener) = self.relays.remove(&peer).and_then(|r| r.listener()) {
            tracing::info!(relay = %peer, "disconnected from a relay; its circuit addresses are gone");
            self.swarm.remove_listener(listener);
        }
    }

    fn listen_addr_gone(&mut self, address: Multiaddr) {
        if self.relay_server && !is_relayed(&address) {
            self.swarm.remove_external_address(&address);
        }
        self.emit(NetEvent::ListenAddrExpired(address));
    }

    /// Graceful stop: let writers flush (bounded by `shutdown_grace`), close connections,
    /// stop the readers, then deliver what events fit.
    async fn shutdown(&mut self) {
        self.wanted.clear();
        for state in self.peers.values_mut() {
            state.writer = None;
        }
        let deadline = Instant::now() + self.shutdown_grace;
        // Writers see their queue closed, write what is queued and close their stream.
        while self.live_writers > 0 {
            tokio::select! {
                Some(event) = self.swarm.next() => self.on_swarm_event(event),
                Some(done) = self.tasks.join_next() => self.on_task_done(done),
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        let connected: Vec<PeerId> = self.peers.keys().copied().collect();
        for peer in connected {
            let _ = self.swarm.disconnect_peer_id(peer);
        }
        let close_deadline = Instant::now() + Duration::from_secs(1);
        while !self.peers.is_empty() {
            tokio::select! {
                Some(event) = self.swarm.next() => self.on_swarm_event(event),
                _ = tokio::time::sleep_until(close_deadline) => break,
            }
        }
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        while let Some(event) = self.pending.pop_front() {
            if self.events.try_send(event).is_err() {
                break;
            }
        }
        self.pending.clear();
    }
}

/// Wait before asking a relay again after `failures` reservations in a row failed or ended.
fn relay_retry(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    RELAY_RETRY
        .saturating_mul(1 << doublings)
        .min(RELAY_RETRY_MAX)
}

/// Whether `addr` is on a loopback interface.
fn is_loopback(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_loopback(),
        Protocol::Ip6(ip) => ip.is_loopback(),
        _ => false,
    })
}

/// Takes inbound sync streams from libp2p-stream as fast as they come.
async fn accept_streams(
    mut incoming: libp2p_stream::IncomingStreams,
    node: mpsc::Sender<(PeerId, Stream)>,
) {
    while let Some(item) = incoming.next().await {
        if node.send(item).await.is_err() {
            break;
        }
    }
}

/// Opens the long-lived outbound stream and writes queued frames to it. Writing happens
/// here, never in the Swarm task, so yamux flow control can only stall this peer's queue.
///
/// The peer never writes on this stream, so it is also read: the read ends (end of stream
/// or an error) as soon as the stream dies under an idle writer, for example with the
/// connection carrying it. Such an end, a failed write, or failing to open the stream for
/// any reason but a peer that does not speak the protocol makes the result `broken`.
async fn run_writer(
    mut control: libp2p_stream::Control,
    peer: PeerId,
    id: u64,
    mut queue: mpsc::Receiver<Vec<u8>>,
) -> TaskDone {
    let stream = match control.open_stream(peer, SYNC_PROTOCOL).await {
        Ok(stream) => stream,
        Err(e) => {
            // A peer that does not speak the protocol is left alone. Any other failure means
            // the connection picked for the stream went away under it (both sides dialed at
            // once and that connection was closed): handled like a stream that broke.
            let broken = !matches!(e, libp2p_stream::OpenStreamError::UnsupportedProtocol(_));
            tracing::debug!(%peer, error = %e, broken, "sync stream not opened");
            return TaskDone::Writer { peer, id, broken };
        }
    };
    let (mut reader, mut writer) = futures::AsyncReadExt::split(stream);
    let result: std::io::Result<()> = async {
        let mut buf = Vec::new();
        let mut probe = [0u8; 1];
        // At most one queue's worth per write: a sender refilling the queue as fast as it
        // drains must not make the batch (and this task's memory) grow without end.
        let batch = queue.max_capacity();
        loop {
            let frame = tokio::select! {
                frame = queue.recv() => frame,
                read = futures::AsyncReadExt::read(&mut reader, &mut probe) => {
                    return Err(match read {
                        Ok(0) => std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "the peer closed the sync stream",
                        ),
                        Ok(_) => std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "the peer wrote on its inbound sync stream",
                        ),
                        Err(e) => e,
                    });
                }
            };
            let Some(frame) = frame else { break };
            buf.clear();
            framing::encode_into(&mut buf, &frame)?;
            // Coalesce what else is already queued, up to a queue's worth of frames and
            // COALESCE_BYTES.
            for _ in 1..batch {
                if buf.len() >= COALESCE_BYTES {
                    break;
                }
                match queue.try_recv() {
                    Ok(more) => framing::encode_into(&mut buf, &more)?,
                    Err(_) => break,
                }
            }
            framing::write_all_flush(&mut writer, &buf).await?;
            if buf.capacity() > 1024 * 1024 {
                buf = Vec::new();
            }
        }
        writer.close().await
    }
    .await;
    let broken = match result {
        Ok(()) => false,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "sync writer ended");
            true
        }
    };
    TaskDone::Writer { peer, id, broken }
}

/// Reads frames from one inbound stream and forwards them as events. A protocol violation
/// closes the stream and is reported; the connection and other streams are unaffected.
async fn run_reader(
    peer: PeerId,
    mut stream: Stream,
    max_frame: usize,
    stall: Duration,
    events: mpsc::Sender<NetEvent>,
) -> TaskDone {
    loop {
        match framing::read_frame(&mut stream, max_frame, stall).await {
            Ok(Some(bytes)) => {
                if events.send(NetEvent::Frame { peer, bytes }).await.is_err() {
                    break;
                }
            }
            Ok(None) => break,
            Err(ReadError::Violation(reason)) => {
                tracing::info!(%peer, %reason, "protocol violation; closing stream");
                let _ = stream.close().await;
                let _ = events
                    .send(NetEvent::ProtocolViolation { peer, reason })
                    .await;
                break;
            }
            Err(ReadError::Io(e)) => {
                tracing::debug!(%peer, error = %e, "sync reader ended");
                break;
            }
        }
    }
    TaskDone::Reader { peer }
}
