//! The crate's error type.

use libp2p::PeerId;

/// Everything that can go wrong in `cohort-net`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The configuration is unusable (e.g. `max_frame` of zero or above `u32::MAX`).
    #[error("invalid network configuration: {0}")]
    Config(String),
    /// Bytes that should hold an Ed25519 key (secret or public) do not.
    #[error("invalid device key: {0}")]
    InvalidKey(String),
    /// Building the transport or a behaviour failed.
    #[error("could not build the libp2p host: {0}")]
    Build(String),
    /// A listen address could not be bound.
    #[error("could not listen on {addr}: {reason}")]
    Listen {
        /// The address asked for.
        addr: String,
        /// Why it failed.
        reason: String,
    },
    /// A dial failed (or was refused by a connection limit).
    #[error("dial failed: {0}")]
    Dial(String),
    /// The peer has no open connection, so a frame cannot be queued for it.
    #[error("peer {0} is not connected")]
    NotConnected(PeerId),
    /// A frame is longer than the configured `max_frame`.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// Length of the frame.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The node has shut down (or its task is gone); the handle is no longer usable.
    #[error("the network node has shut down")]
    Closed,
}
