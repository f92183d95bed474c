//! # cohort-net: Cohort's libp2p host
//!
//! Moves opaque, length-prefixed frames between authenticated peers. It knows nothing of
//! documents, spaces or membership: the sync engine decides what a frame means and who may
//! receive it; this crate only guarantees *who* sent it (Noise-authenticated [`PeerId`]),
//! that it is complete and no longer than `max_frame`, and that frames from one peer arrive
//! in order.
//!
//! ## Shape
//! [`Net::start`] builds a Swarm (TCP + QUIC-v1, Noise, Yamux, identify, ping, optional mDNS,
//! AutoNAT, relay v2 client, DCUtR, connection and memory connection limits, optional relay
//! server (see [Relaying](#relaying)), and the `/cohort/sync/1` stream protocol via
//! `libp2p-stream`) and spawns **one
//! task that owns it** (conventions item 8). It returns:
//! - a cloneable [`NetHandle`]: each method sends a command over a bounded channel and
//!   awaits a oneshot reply;
//! - a bounded `tokio::sync::mpsc::Receiver<`[`NetEvent`]`>`.
//!
//! ## Wire format
//! On `/cohort/sync/1` ([`SYNC_PROTOCOL`]) each frame is a `u32` big-endian length followed by
//! that many bytes. Every connected pair keeps one long-lived outbound stream per direction:
//! a writer task per peer drains a bounded queue onto it (writing never happens in the Swarm
//! task, so yamux flow control cannot stall the node), and a reader task per inbound stream
//! checks each length against `max_frame` *before* allocating, then grows the frame's
//! buffer only as its bytes arrive.
//!
//! ## Limits against hostile or slow peers
//! - a longer length prefix, a stream that ends inside a frame, or a frame that stalls (no
//!   byte of a begun frame for `frame_stall_timeout`) closes that stream and emits
//!   [`NetEvent::ProtocolViolation`]; the connection and other peers are unaffected (the
//!   application decides whether to disconnect the peer);
//! - at most `max_inbound_streams_per_peer` concurrent inbound sync streams per peer; extra
//!   streams are reset and reported as [`NetEvent::ProtocolViolation`];
//! - connection limits (total, per peer, pending) and a memory limit refuse new connections;
//! - what one connection buffers for streams not read yet is bounded by
//!   `max_connection_window`: yamux runs with that connection receive window (through this
//!   crate's own adapter of the `yamux` crate, as `libp2p-yamux` 0.48 keeps yamux's 1 GiB
//!   default), and QUIC with the same connection and stream flow-control limits;
//! - [`NetHandle::send`] waits while the peer's queue (`outbound_queue` frames) is full: a
//!   slow peer slows its senders, memory does not grow;
//! - a frame reader waits while the event channel is full: an application that does not
//!   read its events slows the senders (backpressure across the network).
//!
//! ## Reconnecting
//! [`NetHandle::add_known_peer`] (or a `/p2p/`-terminated address in
//! [`NetConfig::known_peers`]) keeps a peer connected: whenever it is not, the node redials
//! with capped exponential backoff and deterministic jitter ([`Backoff`]). Every connection
//! is pinged every 5 s; one whose ping goes unanswered for 10 s is closed, so a cut link is
//! noticed (and redialing starts) even where TCP would keep the dead connection open.
//!
//! ## Relaying
//! A node started with [`NetConfig::relay_server`] (`cohort serve --relay`, an always-on
//! peer) is a circuit relay v2 server: it announces its listen addresses as reachable and
//! relays circuits for any peer, within libp2p's reservation and circuit limits (128
//! reservations, 4 per peer; 16 circuits, 4 per peer; both rate-limited per peer and per
//! IP) except that one circuit may last an hour and carry 1 GiB (libp2p's 2 min and
//! 128 KiB would cut a sync off). It cannot read what it relays (each relayed connection
//! runs its own Noise handshake end to end).
//!
//! Every other node, once identify shows a directly connected peer speaks the hop protocol
//! (`/libp2p/circuit/relay/0.2.0/hop`), reserves a circuit on it (at most
//! [`NetConfig::max_relays`] relays, default 2), and reports the circuit addresses it gets,
//! `<relay address>/p2p/<relay>/p2p-circuit/p2p/<self>`, as [`NetEvent::ListenAddr`]. libp2p
//! renews the reservation; when the relay disconnects (or refuses) the addresses are
//! reported gone ([`NetEvent::ListenAddrExpired`]), and the node reserves again when it
//! reconnects (or after a backoff from 10 s to 10 min while connected). A peer dialing such an
//! address reaches this node through the relay; both report the connection with its full
//! circuit address (a relayed listener learns only `/p2p/<peer>` from libp2p; the node
//! rebuilds the address through the relay), so either can dial the other back through it.
//! libp2p 0.57 (swarm 0.48) does not mark relayed connections as limited, and
//! `libp2p-stream` opens streams on any connection: the sync stream runs over a relayed
//! connection like over a direct one, for as long as the relay's circuit limits allow. DCUtR then tries a direct connection (hole
//! punching); the sync stream stays on the connection it was opened on.
//!
//! ## Device keys
//! A device is named by its Ed25519 public key; [`peer_id_from_device_key`] and
//! [`device_key_of`] convert between that key and the PeerId.
//!
//! ## Example
//! ```no_run
//! # async fn demo() -> Result<(), cohort_net::NetError> {
//! use cohort_net::{Net, NetConfig, NetEvent};
//! let config = NetConfig::from_secret([1u8; 32])?;
//! let (net, mut events) = Net::start(config).await?;
//! while let Some(event) = events.recv().await {
//!     match event {
//!         NetEvent::PeerConnected { peer, .. } => net.send(peer, b"hello".to_vec()).await?,
//!         NetEvent::Frame { peer, bytes } => println!("{peer}: {} bytes", bytes.len()),
//!         _ => {}
//!     }
//! }
//! net.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! ## Caveats
//! - `send` returning `Ok` means *queued*, not delivered: the sync protocol above must
//!   acknowledge what matters.
//! - A [`NetEvent::Frame`] may arrive after the [`NetEvent::PeerDisconnected`] of its peer
//!   (readers run beside the Swarm task).
//! - Memory per peer beyond the queue: the writer's batch buffer (at most one queue's worth,
//!   and 256 KiB unless a single frame is larger), the frames its readers hold (one each,
//!   growing with the bytes received) and the connection window.
//! - Two applications that each block in `send` to the other while not reading their own
//!   events can deadlock each other; run sends and event handling on separate tasks.

mod backoff;
mod config;
mod error;
mod identity;
mod muxer;
mod node;

pub use config::{Backoff, DEFAULT_MAX_FRAME, NetConfig};
pub use error::NetError;
pub use identity::{device_key_of, keypair_from_secret, peer_id_from_device_key, secret_of};
pub use libp2p::identity::Keypair;
pub use libp2p::multiaddr::Protocol;
pub use libp2p::{Multiaddr, PeerId};
pub use node::{Net, NetHandle, SYNC_PROTOCOL};

mod framing;

/// What the node tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetEvent {
    /// The first connection to `peer` was established (`addr` is its remote address).
    PeerConnected {
        /// The authenticated remote peer.
        peer: PeerId,
        /// The remote address of that connection.
        addr: Multiaddr,
    },
    /// The last connection to `peer` closed.
    PeerDisconnected {
        /// The peer.
        peer: PeerId,
    },
    /// One complete frame from `peer` (at most `max_frame` bytes), in the order sent.
    Frame {
        /// The authenticated sender.
        peer: PeerId,
        /// The frame's payload (without its length prefix).
        bytes: Vec<u8>,
    },
    /// `peer` broke the stream protocol; the offending stream was closed.
    ProtocolViolation {
        /// The offending peer.
        peer: PeerId,
        /// What it did.
        reason: String,
    },
    /// mDNS found `peer` on the local network at `addrs` (not dialed automatically).
    Discovered {
        /// The discovered peer.
        peer: PeerId,
        /// Its advertised addresses.
        addrs: Vec<Multiaddr>,
    },
    /// The node listens on a new address. A relay circuit address (one holding
    /// `/p2p-circuit`) is complete: `<relay address>/p2p/<relay>/p2p-circuit/p2p/<this node>`.
    ListenAddr(Multiaddr),
    /// The node no longer listens on an address (a relay reservation ended: the relay
    /// disconnected or refused to renew it).
    ListenAddrExpired(Multiaddr),
}
