//! Node configuration.

use std::time::Duration;

use libp2p::Multiaddr;
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;

use crate::muxer::STREAM_CREDIT;
use crate::{NetError, identity::keypair_from_secret};

/// Everything [`crate::Net::start`] needs. Build one with [`NetConfig::new`] and adjust the
/// public fields; every limit has a safe default.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// The device's libp2p identity (Ed25519). Its PeerId is the device's identity.
    pub keypair: Keypair,
    /// Addresses to listen on. Default: TCP and QUIC-v1 on `0.0.0.0`, port 0 (any free port).
    pub listen: Vec<Multiaddr>,
    /// Discover peers on the local network with mDNS (emits [`crate::NetEvent::Discovered`]).
    pub mdns: bool,
    /// Also act as a circuit relay v2 server for other peers (`cohort serve --relay`): its
    /// listen addresses are announced as reachable, so peers can reserve circuits on it, and
    /// circuits are relayed for up to an hour and 1 GiB each (see [`crate::Net`]). A relay
    /// server makes no reservations itself.
    pub relay_server: bool,
    /// Most relays this node reserves a circuit address on (relays are the connected peers
    /// whose identify info lists the circuit relay v2 hop protocol). 0 disables reserving.
    pub max_relays: usize,
    /// Maximum established connections in total (libp2p `connection-limits`).
    pub max_connections: u32,
    /// Maximum established connections to one peer (2 allows a simultaneous dial).
    pub max_connections_per_peer: u32,
    /// Maximum pending (handshaking) connections, inbound and outbound each.
    pub max_pending_connections: u32,
    /// Refuse new connections once the process uses more than this fraction of system memory
    /// (libp2p `memory-connection-limits`).
    pub max_memory_fraction: f64,
    /// Maximum number of concurrent inbound `/cohort/sync/1` streams from one peer; further
    /// streams are refused and reported as [`crate::NetEvent::ProtocolViolation`].
    pub max_inbound_streams_per_peer: usize,
    /// Maximum streams (of any protocol) per connection, yamux and QUIC alike.
    pub max_yamux_streams: usize,
    /// Most bytes one connection may hold received but not yet read by the application,
    /// all its streams together (yamux's connection receive window; QUIC's connection
    /// flow-control limit). Must be at least `max_yamux_streams * 256 KiB`: yamux grants
    /// every stream 256 KiB, and only the part above that is shared out to busy streams
    /// (whose windows grow towards the link's bandwidth-delay product). A peer can never
    /// make a connection buffer more than this: once a stream's reader stops, its sender
    /// stops too (backpressure).
    pub max_connection_window: usize,
    /// A peer that has begun a frame must go on sending it: if no byte of the frame arrives
    /// for this long, the stream is closed and reported as a
    /// [`crate::NetEvent::ProtocolViolation`] (a truncated frame cannot hold a stream open).
    /// Waiting *between* frames is not limited.
    pub frame_stall_timeout: Duration,
    /// Maximum frame length in bytes; checked on send and before allocating on receive.
    pub max_frame: usize,
    /// Frames queued per peer before [`crate::NetHandle::send`] waits. Per-peer memory held
    /// in the queue is at most `outbound_queue * max_frame`.
    pub outbound_queue: usize,
    /// Capacity of the event channel returned by [`crate::Net::start`].
    pub event_queue: usize,
    /// Capacity of the command channel shared by all [`crate::NetHandle`]s.
    pub command_queue: usize,
    /// Peers to connect to at start. An address ending in `/p2p/<peer id>` makes that peer a
    /// known peer (reconnected with backoff, like [`crate::NetHandle::add_known_peer`]);
    /// an address without one is dialed once.
    pub known_peers: Vec<Multiaddr>,
    /// Reconnect backoff for known peers.
    pub backoff: Backoff,
    /// Close a connection that has had no open stream for this long.
    pub idle_timeout: Duration,
    /// How long [`crate::NetHandle::shutdown`] waits for queued frames to be written.
    pub shutdown_grace: Duration,
}

/// Exponential reconnect backoff: the delay before attempt `n` is
/// `min(initial * 2^n, max)`, scaled by a jitter factor in `[0.5, 1.0]` drawn from a
/// deterministic generator seeded with `seed` (so tests are reproducible).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first retry.
    pub initial: Duration,
    /// Cap on the delay.
    pub max: Duration,
    /// Seed of the jitter generator (inject distinct seeds per device to avoid lock-step).
    pub seed: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(60),
            seed: 0x5eed,
        }
    }
}

/// Default `max_frame`: 4 MiB.
pub const DEFAULT_MAX_FRAME: usize = 4 * 1024 * 1024;

impl NetConfig {
    /// A configuration with every default for `keypair`.
    pub fn new(keypair: Keypair) -> Self {
        let any4 = |rest: Protocol<'static>| {
            Multiaddr::empty()
                .with(Protocol::Ip4([0, 0, 0, 0].into()))
                .with(rest)
        };
        Self {
            keypair,
            listen: vec![
                any4(Protocol::Tcp(0)),
                any4(Protocol::Udp(0)).with(Protocol::QuicV1),
            ],
            mdns: true,
            relay_server: false,
            max_relays: 2,
            max_connections: 128,
            max_connections_per_peer: 2,
            max_pending_connections: 32,
            max_memory_fraction: 0.9,
            max_inbound_streams_per_peer: 4,
            max_yamux_streams: 64,
            max_connection_window: 64 * STREAM_CREDIT + 8 * 1024 * 1024,
            frame_stall_timeout: Duration::from_secs(20),
            max_frame: DEFAULT_MAX_FRAME,
            outbound_queue: 64,
            event_queue: 1024,
            command_queue: 64,
            known_peers: Vec::new(),
            backoff: Backoff::default(),
            idle_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(2),
        }
    }

    /// A configuration with every default for the device whose 32 secret bytes are `secret`.
    ///
    /// # Errors
    /// [`NetError::InvalidKey`] if the key cannot be decoded.
    pub fn from_secret(secret: [u8; 32]) -> Result<Self, NetError> {
        Ok(Self::new(keypair_from_secret(secret)?))
    }

    pub(crate) fn validate(&self) -> Result<(), NetError> {
        let bad = |m: &str| Err(NetError::Config(m.to_owned()));
        if self.max_frame == 0 || u32::try_from(self.max_frame).is_err() {
            return bad("max_frame must be in 1..=u32::MAX");
        }
        if self.outbound_queue == 0 || self.event_queue == 0 || self.command_queue == 0 {
            return bad("queue capacities must be at least 1");
        }
        if self.max_inbound_streams_per_peer == 0 {
            return bad("max_inbound_streams_per_peer must be at least 1");
        }
        if self.max_yamux_streams == 0 || u32::try_from(self.max_yamux_streams).is_err() {
            return bad("max_yamux_streams must be in 1..=u32::MAX");
        }
        if self
            .max_yamux_streams
            .checked_mul(STREAM_CREDIT)
            .is_none_or(|least| self.max_connection_window < least)
        {
            return bad("max_connection_window must be at least max_yamux_streams * 256 KiB");
        }
        if self.frame_stall_timeout.is_zero() {
            return bad("frame_stall_timeout must not be zero");
        }
        if !(self.max_memory_fraction > 0.0 && self.max_memory_fraction <= 1.0) {
            return bad("max_memory_fraction must be in (0, 1]");
        }
        if self.backoff.initial.is_zero() || self.backoff.max < self.backoff.initial {
            return bad("backoff needs 0 < initial <= max");
        }
        Ok(())
    }
}
