//! Device keys (Ed25519 signing keys), signature checks against a [`DeviceId`], and the
//! public key that stands for an invite in a membership log ([`InviteKey`]).

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::DeviceId;

/// An invite's public key (derived from its secret), as it appears in the log: 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InviteKey(pub [u8; 32]);

impl fmt::Display for InviteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for InviteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InviteKey({})", &hex::encode(self.0)[..12])
    }
}

/// Text that is not an invite key (64 lowercase hex digits).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid invite key {0:?}: expected 64 lowercase hex digits")]
pub struct ParseInviteKeyError(pub String);

impl FromStr for InviteKey {
    type Err = ParseInviteKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        match hex::decode_to_slice(s, &mut bytes) {
            Ok(()) if hex::encode(bytes) == s => Ok(InviteKey(bytes)),
            _ => Err(ParseInviteKeyError(s.chars().take(80).collect())),
        }
    }
}

/// Length in bytes of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// A device's private signing key. Its public half is the device's [`DeviceId`].
///
/// The secret is zeroized on drop and never shown by `Debug`.
#[derive(Clone)]
pub struct DeviceKey(SigningKey);

impl DeviceKey {
    /// A new key from 32 bytes of fresh randomness supplied by the caller (this crate draws
    /// no randomness itself). The bytes must come from a cryptographically secure source.
    pub fn generate(random: [u8; 32]) -> Self {
        DeviceKey(SigningKey::from_bytes(&random))
    }

    /// Restores a key from its 32 secret bytes (as returned by [`DeviceKey::to_bytes`]).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        DeviceKey(SigningKey::from_bytes(&bytes))
    }

    /// The 32 secret bytes, for storing the key (owner-only file permissions).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The device's public identity.
    pub fn device_id(&self) -> DeviceId {
        DeviceId(self.0.verifying_key().to_bytes())
    }

    /// Signs `message` (deterministic Ed25519).
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(message).to_bytes()
    }

    /// Wraps an already-built signing key (used for keys derived from invite secrets).
    pub(crate) fn from_signing_key(key: SigningKey) -> Self {
        DeviceKey(key)
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceKey({:?}, secret hidden)", self.device_id())
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature is not 64 bytes long.
    #[error("signature is {0} bytes long, expected 64")]
    BadLength(usize),
    /// The public key is not a valid (or is a weak, small-order) Ed25519 point.
    #[error("public key is not a valid Ed25519 key")]
    BadKey,
    /// The signature does not match the message and key.
    #[error("signature does not match")]
    Mismatch,
}

/// Checks `signature` over `message` against the Ed25519 public key `key` (strict
/// verification: rejects small-order keys and non-canonical signatures).
pub fn verify_signature(
    key: &[u8; 32],
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    let bytes: [u8; SIGNATURE_LEN] = signature
        .try_into()
        .map_err(|_| SignatureError::BadLength(signature.len()))?;
    let key = VerifyingKey::from_bytes(key).map_err(|_| SignatureError::BadKey)?;
    key.verify_strict(message, &Signature::from_bytes(&bytes))
        .map_err(|_| SignatureError::Mismatch)
}

/// Checks that `device` signed `message` with `signature`.
pub fn verify_device(
    device: &DeviceId,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    verify_signature(&device.0, message, signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_round_trips_and_verifies_only_its_own_signatures() {
        let key = DeviceKey::generate([7; 32]);
        let again = DeviceKey::from_bytes(key.to_bytes());
        assert_eq!(
            key.device_id(),
            again.device_id(),
            "restored key must keep its id"
        );
        let sig = key.sign(b"hello");
        assert_eq!(verify_device(&key.device_id(), b"hello", &sig), Ok(()));
        assert_eq!(
            verify_device(&key.device_id(), b"hellO", &sig),
            Err(SignatureError::Mismatch),
            "a changed message must not verify"
        );
        let other = DeviceKey::generate([8; 32]).device_id();
        assert_eq!(
            verify_device(&other, b"hello", &sig),
            Err(SignatureError::Mismatch),
            "another device's key must not verify"
        );
        assert_eq!(
            verify_device(&key.device_id(), b"hello", &sig[..63]),
            Err(SignatureError::BadLength(63))
        );
        assert!(
            !format!("{key:?}").contains(&hex::encode(key.to_bytes())),
            "Debug must not show the secret"
        );
    }
}
