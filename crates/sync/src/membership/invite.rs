//! Invites: a one-time secret whose derived Ed25519 key pair stands for the invite in the log,
//! redemption proofs, and the copy-pasteable [`Ticket`] that carries the secret to the joiner.

use std::fmt;
use std::str::FromStr;

use cohort_model::{PersonId, Role, SpaceId, Timestamp};
use data_encoding::BASE32_NOPAD_NOCASE;
use ed25519_dalek::SigningKey;

use super::entry::Action;
use super::keys::{DeviceKey, InviteKey, SignatureError, verify_signature};
use crate::DeviceId;

/// blake3 `derive_key` context turning an invite secret into an Ed25519 secret key.
const INVITE_KEY_CONTEXT: &str = "cohort invite key v1";

/// Domain-separation prefix of a redemption proof.
const PROOF_DOMAIN: &[u8] = b"cohort invite redemption v1";

fn derived_key(secret: &[u8; 32]) -> DeviceKey {
    DeviceKey::from_signing_key(SigningKey::from_bytes(&blake3::derive_key(
        INVITE_KEY_CONTEXT,
        secret,
    )))
}

/// The public key the log holds for the invite with this secret.
pub fn invite_key_for(secret: &[u8; 32]) -> InviteKey {
    InviteKey(derived_key(secret).device_id().0)
}

fn proof_message(device: &DeviceId) -> Vec<u8> {
    let mut msg = Vec::with_capacity(PROOF_DOMAIN.len() + 32);
    msg.extend_from_slice(PROOF_DOMAIN);
    msg.extend_from_slice(&device.0);
    msg
}

/// The proof a joining `device` puts in its `invite_redeemed` entry: its device id signed
/// with the invite's derived private key. Only a holder of the secret can make it.
pub fn redeem_proof(secret: &[u8; 32], device: DeviceId) -> Vec<u8> {
    derived_key(secret).sign(&proof_message(&device)).to_vec()
}

/// Checks a redemption proof for `device` against the invite's public key.
pub fn verify_redeem_proof(
    key: &InviteKey,
    device: &DeviceId,
    proof: &[u8],
) -> Result<(), SignatureError> {
    verify_signature(&key.0, &proof_message(device), proof)
}

/// An invite as its issuer holds it: the secret (which goes into the [`Ticket`]) and the terms
/// written to the log.
#[derive(Clone)]
pub struct Invite {
    secret: [u8; 32],
    key: InviteKey,
    /// The role a redeemer gets.
    pub role: Role,
    /// Redemptions at or after this time are rejected.
    pub expires_at: Timestamp,
    /// How many redemptions the invite allows.
    pub uses: u32,
    /// For a device-link invite: the member whose new device redeems it.
    pub member: Option<PersonId>,
}

impl Invite {
    /// An invite admitting up to `uses` new people with `role` until `expires_at`. `secret`
    /// is 32 fresh random bytes from the caller.
    pub fn new(secret: [u8; 32], role: Role, expires_at: Timestamp, uses: u32) -> Invite {
        Invite {
            key: invite_key_for(&secret),
            secret,
            role,
            expires_at,
            uses,
            member: None,
        }
    }

    /// Turns this into a device-link invite: a redeeming device joins `member` (who must be
    /// the issuer, and `role` must be the issuer's role) instead of a new person.
    pub fn linking(mut self, member: PersonId) -> Invite {
        self.member = Some(member);
        self
    }

    /// The invite's secret.
    pub fn secret(&self) -> [u8; 32] {
        self.secret
    }

    /// The public key the log holds.
    pub fn key(&self) -> InviteKey {
        self.key
    }

    /// The `invite_issued` action for the log.
    pub fn issue(&self) -> Action {
        Action::InviteIssued {
            invite_key: self.key,
            role: self.role,
            expires_at: self.expires_at,
            uses: self.uses,
            member: self.member,
        }
    }

    /// The ticket to hand to the joiner.
    pub fn ticket(&self, space: SpaceId, addrs: Vec<String>) -> Ticket {
        Ticket {
            space,
            secret: self.secret,
            role: self.role,
            member: self.member,
            addrs,
        }
    }
}

impl fmt::Debug for Invite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invite")
            .field("key", &self.key)
            .field("role", &self.role)
            .field("expires_at", &self.expires_at)
            .field("uses", &self.uses)
            .field("member", &self.member)
            .finish_non_exhaustive()
    }
}

/// The `invite_redeemed` action a joining `device` signs (with its own key) after receiving a
/// ticket: `member` is the joiner's person id, `role` the invite's role.
pub fn redeem_action(secret: &[u8; 32], member: PersonId, device: DeviceId, role: Role) -> Action {
    Action::InviteRedeemed {
        invite_key: invite_key_for(secret),
        member,
        device,
        role,
        proof: redeem_proof(secret, device),
    }
}

/// What a ticket's text starts with (human-readable part and separator, as in bech32).
pub const TICKET_PREFIX: &str = "cohort1";

/// The ticket format version this build writes and reads.
pub const TICKET_VERSION: u8 = 1;

/// The longest ticket text accepted (guards against pasting a huge blob).
pub const MAX_TICKET_LEN: usize = 4096;

const CHECKSUM_LEN: usize = 4;
const CHECKSUM_CONTEXT: &str = "cohort ticket checksum v1";
/// version + space + secret + role + member flag + address count.
const MIN_BODY: usize = 1 + 16 + 32 + 1 + 1 + 1;

/// An invite ticket: what the joiner needs to find the space and prove the invite.
#[derive(Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The space invited to.
    pub space: SpaceId,
    /// The invite's secret.
    pub secret: [u8; 32],
    /// The role the invite grants (the redemption must claim exactly this role).
    pub role: Role,
    /// For a device-link invite: the member the new device joins.
    pub member: Option<PersonId>,
    /// The inviter's addresses (multiaddrs as text).
    pub addrs: Vec<String>,
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("space", &self.space)
            .field("role", &self.role)
            .field("member", &self.member)
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

/// Why ticket text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// The text does not start with `cohort1`.
    #[error("not a Cohort invite ticket: it should start with \"cohort1\"")]
    BadPrefix,
    /// The text is longer than any ticket.
    #[error("ticket is too long ({0} characters; at most 4096)")]
    TooLong(usize),
    /// A character is not one a ticket uses (letters a–z and digits 2–7), or the text has a
    /// length no ticket has.
    #[error("ticket has an invalid character or length at position {position}: check for a typo")]
    BadEncoding {
        /// Position in the text (counting the prefix).
        position: usize,
    },
    /// The text decodes to too few bytes to be a ticket (cut off while copying?).
    #[error("ticket is too short ({0} bytes): was it cut off while copying?")]
    TooShort(usize),
    /// The checksum does not match: the text was mistyped or altered.
    #[error("ticket checksum does not match: the ticket was mistyped or damaged")]
    BadChecksum,
    /// The ticket was made by a newer (or unknown) version of Cohort.
    #[error("ticket version {0} is not supported (this version reads version 1); update Cohort")]
    UnsupportedVersion(u8),
    /// The checksum matched but the contents are inconsistent (not made by Cohort).
    #[error("ticket contents are malformed: {0}")]
    Malformed(&'static str),
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn take_varint(input: &mut &[u8]) -> Result<u64, TicketError> {
    let mut n: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input
            .split_first()
            .ok_or(TicketError::Malformed("truncated length"))?;
        *input = rest;
        n |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(n);
        }
    }
    Err(TicketError::Malformed("length too large"))
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], TicketError> {
    if input.len() < n {
        return Err(TicketError::Malformed("truncated field"));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn checksum(body: &[u8]) -> [u8; CHECKSUM_LEN] {
    let hash = blake3::derive_key(CHECKSUM_CONTEXT, body);
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&hash[..CHECKSUM_LEN]);
    out
}

impl Ticket {
    /// The ticket as text: `cohort1` followed by lowercase unpadded base32 of
    /// `version ‖ space ‖ secret ‖ role ‖ member flag (0, or 1 ‖ member (16)) ‖ varint(#addrs) ‖ (varint(len) ‖ addr)* ‖ checksum`, where the
    /// checksum is 4 bytes of a blake3 derived key over everything before it. URL-safe.
    pub fn encode(&self) -> String {
        let mut body = Vec::with_capacity(MIN_BODY + CHECKSUM_LEN + self.addrs.len() * 40);
        body.push(TICKET_VERSION);
        body.extend_from_slice(self.space.as_bytes());
        body.extend_from_slice(&self.secret);
        body.push(role_code(self.role));
        match self.member {
            None => body.push(0),
            Some(member) => {
                body.push(1);
                body.extend_from_slice(member.as_bytes());
            }
        }
        put_varint(&mut body, self.addrs.len() as u64);
        for addr in &self.addrs {
            put_varint(&mut body, addr.len() as u64);
            body.extend_from_slice(addr.as_bytes());
        }
        let sum = checksum(&body);
        body.extend_from_slice(&sum);
        let mut text = String::from(TICKET_PREFIX);
        text.push_str(&BASE32_NOPAD_NOCASE.encode(&body).to_ascii_lowercase());
        text
    }

    /// Reads ticket text (surrounding whitespace and letter case are ignored).
    pub fn decode(text: &str) -> Result<Ticket, TicketError> {
        let text = text.trim();
        if text.len() > MAX_TICKET_LEN {
            return Err(TicketError::TooLong(text.len()));
        }
        let prefix = text
            .get(..TICKET_PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(TICKET_PREFIX))
            .ok_or(TicketError::BadPrefix)?;
        let encoded = &text[prefix.len()..];
        let bytes = BASE32_NOPAD_NOCASE
            .decode(encoded.as_bytes())
            .map_err(|e| TicketError::BadEncoding {
                position: e.position + TICKET_PREFIX.len(),
            })?;
        if bytes.len() < MIN_BODY + CHECKSUM_LEN {
            return Err(TicketError::TooShort(bytes.len()));
        }
        let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if checksum(body) != sum {
            return Err(TicketError::BadChecksum);
        }
        let mut input = body;
        let version = take(&mut input, 1)?[0];
        if version != TICKET_VERSION {
            return Err(TicketError::UnsupportedVersion(version));
        }
        let mut space = [0u8; 16];
        space.copy_from_slice(take(&mut input, 16)?);
        let mut secret = [0u8; 32];
        secret.copy_from_slice(take(&mut input, 32)?);
        let role = role_of_code(take(&mut input, 1)?[0])?;
        let member = match take(&mut input, 1)?[0] {
            0 => None,
            1 => {
                let mut id = [0u8; 16];
                id.copy_from_slice(take(&mut input, 16)?);
                Some(PersonId::from_bytes(id))
            }
            _ => return Err(TicketError::Malformed("bad member flag")),
        };
        let count = take_varint(&mut input)?;
        let mut addrs = Vec::new();
        for _ in 0..count {
            let len = usize::try_from(take_varint(&mut input)?)
                .map_err(|_| TicketError::Malformed("address too long"))?;
            let addr = std::str::from_utf8(take(&mut input, len)?)
                .map_err(|_| TicketError::Malformed("address is not UTF-8"))?;
            addrs.push(addr.to_owned());
        }
        if !input.is_empty() {
            return Err(TicketError::Malformed("trailing bytes"));
        }
        Ok(Ticket {
            space: SpaceId::from_bytes(space),
            secret,
            role,
            member,
            addrs,
        })
    }
}

fn role_code(role: Role) -> u8 {
    match role {
        Role::Facilitator => 1,
        Role::Learner => 2,
        Role::Observer => 3,
    }
}

fn role_of_code(code: u8) -> Result<Role, TicketError> {
    match code {
        1 => Ok(Role::Facilitator),
        2 => Ok(Role::Learner),
        3 => Ok(Role::Observer),
        _ => Err(TicketError::Malformed("unknown role")),
    }
}

impl fmt::Display for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl FromStr for Ticket {
    type Err = TicketError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ticket::decode(s)
    }
}
