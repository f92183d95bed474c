//! Device keys <-> libp2p identities.
//!
//! A device is named by its Ed25519 public key (32 bytes); its libp2p [`PeerId`] is the
//! identity multihash of that key, so the mapping is lossless both ways.

use libp2p::PeerId;
use libp2p::identity::{Keypair, PublicKey, ed25519};

use crate::NetError;

/// Multihash code of the identity hash, used by libp2p for small (e.g. Ed25519) public keys.
const IDENTITY_MULTIHASH: u64 = 0x00;

/// Builds the libp2p keypair of a device from the 32 secret bytes the host stores.
///
/// # Errors
/// Never fails for 32 bytes in practice; the error exists because the underlying decoder
/// returns one.
pub fn keypair_from_secret(secret: [u8; 32]) -> Result<Keypair, NetError> {
    Keypair::ed25519_from_bytes(secret).map_err(|e| NetError::InvalidKey(e.to_string()))
}

/// The 32 secret bytes of a device keypair built by [`keypair_from_secret`] (for storing).
///
/// Returns `None` for a keypair that is not Ed25519.
pub fn secret_of(keypair: &Keypair) -> Option<[u8; 32]> {
    let kp = keypair.clone().try_into_ed25519().ok()?;
    let mut secret = [0u8; 32];
    secret.copy_from_slice(kp.secret().as_ref());
    Some(secret)
}

/// The [`PeerId`] of the device whose Ed25519 public key is `public`.
///
/// # Errors
/// [`NetError::InvalidKey`] when the bytes are not a valid Ed25519 point.
pub fn peer_id_from_device_key(public: [u8; 32]) -> Result<PeerId, NetError> {
    let key = ed25519::PublicKey::try_from_bytes(&public)
        .map_err(|e| NetError::InvalidKey(e.to_string()))?;
    Ok(PublicKey::from(key).to_peer_id())
}

/// The Ed25519 public key of a device, recovered from its [`PeerId`].
///
/// Returns `None` when the PeerId is not an identity multihash of an Ed25519 key (e.g. a
/// SHA-256 PeerId of an RSA key): such a peer is not a Cohort device.
pub fn device_key_of(peer: &PeerId) -> Option<[u8; 32]> {
    let hash = peer.as_ref();
    if hash.code() != IDENTITY_MULTIHASH {
        return None;
    }
    let public = PublicKey::try_decode_protobuf(hash.digest()).ok()?;
    let ed = public.try_into_ed25519().ok()?;
    Some(ed.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_key_round_trips_through_peer_id() {
        let kp = keypair_from_secret([7u8; 32]).unwrap();
        let public = kp.public().try_into_ed25519().unwrap().to_bytes();
        let peer = peer_id_from_device_key(public).unwrap();
        assert_eq!(peer, kp.public().to_peer_id());
        assert_eq!(device_key_of(&peer), Some(public));
        assert_eq!(secret_of(&kp), Some([7u8; 32]));
    }

    #[test]
    fn non_identity_peer_id_has_no_device_key() {
        // A random PeerId is a SHA-256 multihash of random bytes, not an identity hash.
        assert_eq!(device_key_of(&PeerId::random()), None);
    }
}
