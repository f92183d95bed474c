//! Entries: their typed arguments ([`Action`]), canonical signing bytes, signing and
//! verification, and the binding of a space id to its creator's device.

use std::collections::BTreeMap;

use cohort_model::{Entry, EntryKind, ItemId, PersonId, Role, SpaceId, Timestamp};

use super::keys::{DeviceKey, InviteKey, SignatureError, verify_device};
use crate::DeviceId;

/// Domain-separation prefix of every entry signature.
pub const ENTRY_DOMAIN: &[u8] = b"cohort membership v1";

/// blake3 `derive_key` context binding a space id to its creator's device.
const SPACE_ID_CONTEXT: &str = "cohort space id v1";

/// The space id a device creates with a `nonce` (16 random bytes from the caller): the first
/// 16 bytes of `blake3::derive_key(context, device || nonce)`. A `create` entry is valid only
/// if its author and `nonce` field give the log's space id, so nobody but the creating device
/// can write a valid `create` for a space.
pub fn space_id_for(creator: &DeviceId, nonce: [u8; 16]) -> SpaceId {
    let mut material = [0u8; 48];
    material[..32].copy_from_slice(&creator.0);
    material[32..].copy_from_slice(&nonce);
    let hash = blake3::derive_key(SPACE_ID_CONTEXT, &material);
    let mut id = [0u8; 16];
    id.copy_from_slice(&hash[..16]);
    SpaceId::from_bytes(id)
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// The bytes an entry's signature covers: the domain prefix, the space id, and every field of
/// the entry except the signature, each length-prefixed (u64 big-endian), with `fields` in
/// sorted key order. Two different (space, entry) pairs never give the same bytes.
pub fn signing_bytes(space: SpaceId, entry: &Entry) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + entry.fields.len() * 64);
    put_bytes(&mut out, ENTRY_DOMAIN);
    put_bytes(&mut out, space.as_bytes());
    put_bytes(&mut out, entry.id.as_bytes());
    put_bytes(&mut out, entry.kind.as_str().as_bytes());
    put_bytes(&mut out, entry.author_device.as_bytes());
    put_bytes(&mut out, &entry.at.millis().to_be_bytes());
    out.extend_from_slice(&(entry.fields.len() as u64).to_be_bytes());
    // BTreeMap iterates in sorted key order.
    for (key, value) in &entry.fields {
        put_bytes(&mut out, key.as_bytes());
        put_bytes(&mut out, value.as_bytes());
    }
    out
}

/// Signs `entry` for `space` with `key`: sets `author_device` to the key's device id (64
/// lowercase hex digits), then `signature` over [`signing_bytes`].
pub fn sign_entry(key: &DeviceKey, space: SpaceId, entry: &mut Entry) {
    entry.author_device = key.device_id().to_string();
    entry.signature = key.sign(&signing_bytes(space, entry)).to_vec();
}

/// Why an entry's signature is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// `author_device` is not a device id in canonical form (64 lowercase hex digits).
    #[error("author_device {0:?} is not a device id (64 lowercase hex digits)")]
    BadAuthor(String),
    /// The entry carries no signature.
    #[error("entry is not signed")]
    Unsigned,
    /// The signature does not verify against the author device.
    #[error("bad signature: {0}")]
    BadSignature(#[from] SignatureError),
}

/// Checks `entry`'s signature for `space`; returns the device that signed it.
pub fn verify_entry(space: SpaceId, entry: &Entry) -> Result<DeviceId, EntryError> {
    let device: DeviceId = entry
        .author_device
        .parse()
        .map_err(|_| EntryError::BadAuthor(entry.author_device.chars().take(80).collect()))?;
    if device.to_string() != entry.author_device {
        return Err(EntryError::BadAuthor(
            entry.author_device.chars().take(80).collect(),
        ));
    }
    if entry.signature.is_empty() {
        return Err(EntryError::Unsigned);
    }
    verify_device(&device, &signing_bytes(space, entry), &entry.signature)?;
    Ok(device)
}

/// A membership entry's meaning, with typed arguments. [`Action::to_entry`] and
/// [`Action::parse`] are the one place that knows the field names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `create {creator, nonce}`: creates the space; `creator` becomes its facilitator with
    /// the signing device. `nonce` must satisfy [`space_id_for`].
    Create {
        /// The creating person.
        creator: PersonId,
        /// The nonce the space id was derived from.
        nonce: [u8; 16],
    },
    /// `add_member {member, device, role}`.
    AddMember {
        /// The person added.
        member: PersonId,
        /// Their first device.
        device: DeviceId,
        /// Their role.
        role: Role,
    },
    /// `change_role {member, role}`.
    ChangeRole {
        /// The member whose role changes.
        member: PersonId,
        /// The new role.
        role: Role,
    },
    /// `remove_member {member}`.
    RemoveMember {
        /// The member removed.
        member: PersonId,
    },
    /// `link_device {member, device}`: a member links another of their devices.
    LinkDevice {
        /// The member (must be the signer's own person).
        member: PersonId,
        /// The device linked.
        device: DeviceId,
    },
    /// `unlink_device {member, device}`: a member unlinks one of their devices; it belongs
    /// to no member from then on (and only this member may link it again).
    UnlinkDevice {
        /// The member (must be the signer's own person).
        member: PersonId,
        /// The device unlinked.
        device: DeviceId,
    },
    /// `invite_issued {invite_key, role, expires_at, uses[, member]}`. With `member`, the
    /// invite links a new device to that (existing) member instead of admitting a new person.
    InviteIssued {
        /// The public key derived from the invite's secret.
        invite_key: InviteKey,
        /// The role a redeemer gets.
        role: Role,
        /// Redemptions at or after this time are rejected.
        expires_at: Timestamp,
        /// How many redemptions the invite allows (at least 1).
        uses: u32,
        /// For a device-link invite: the member the new device joins.
        member: Option<PersonId>,
    },
    /// `invite_redeemed {invite_key, member, device, role, proof}`, signed by `device` itself.
    InviteRedeemed {
        /// The redeemed invite's public key.
        invite_key: InviteKey,
        /// The person joining (a new person, or the member of a device-link invite).
        member: PersonId,
        /// The joining device (must be the entry's signer).
        device: DeviceId,
        /// The role claimed (must equal the invite's role).
        role: Role,
        /// Signature of `device` by the invite's derived key (see `redeem_proof`).
        proof: Vec<u8>,
    },
}

/// A field of an entry that is missing or does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// A required field is absent.
    #[error("missing field {0:?}")]
    Missing(&'static str),
    /// A field's value does not parse.
    #[error("field {field:?} has invalid value {value:?}")]
    Invalid {
        /// The field's name.
        field: &'static str,
        /// Its value (cut to 80 characters).
        value: String,
    },
}

fn field<T: std::str::FromStr>(
    fields: &BTreeMap<String, String>,
    name: &'static str,
) -> Result<T, FieldError> {
    let text = fields.get(name).ok_or(FieldError::Missing(name))?;
    text.parse().map_err(|_| FieldError::Invalid {
        field: name,
        value: text.chars().take(80).collect(),
    })
}

fn opt_field<T: std::str::FromStr>(
    fields: &BTreeMap<String, String>,
    name: &'static str,
) -> Result<Option<T>, FieldError> {
    match fields.contains_key(name) {
        true => field(fields, name).map(Some),
        false => Ok(None),
    }
}

fn hex_field<const N: usize>(
    fields: &BTreeMap<String, String>,
    name: &'static str,
) -> Result<[u8; N], FieldError> {
    let text = fields.get(name).ok_or(FieldError::Missing(name))?;
    let mut out = [0u8; N];
    match hex::decode_to_slice(text, &mut out) {
        Ok(()) => Ok(out),
        Err(_) => Err(FieldError::Invalid {
            field: name,
            value: text.chars().take(80).collect(),
        }),
    }
}

fn hex_vec_field(
    fields: &BTreeMap<String, String>,
    name: &'static str,
) -> Result<Vec<u8>, FieldError> {
    let text = fields.get(name).ok_or(FieldError::Missing(name))?;
    hex::decode(text).map_err(|_| FieldError::Invalid {
        field: name,
        value: text.chars().take(80).collect(),
    })
}

fn timestamp_field(
    fields: &BTreeMap<String, String>,
    name: &'static str,
) -> Result<Timestamp, FieldError> {
    field::<i64>(fields, name).map(Timestamp)
}

impl Action {
    /// The entry kind this action is written as.
    pub fn kind(&self) -> EntryKind {
        match self {
            Action::Create { .. } => EntryKind::Create,
            Action::AddMember { .. } => EntryKind::AddMember,
            Action::ChangeRole { .. } => EntryKind::ChangeRole,
            Action::RemoveMember { .. } => EntryKind::RemoveMember,
            Action::LinkDevice { .. } => EntryKind::LinkDevice,
            Action::UnlinkDevice { .. } => EntryKind::UnlinkDevice,
            Action::InviteIssued { .. } => EntryKind::InviteIssued,
            Action::InviteRedeemed { .. } => EntryKind::InviteRedeemed,
        }
    }

    /// The entry's `fields` map for this action.
    pub fn fields(&self) -> BTreeMap<String, String> {
        let mut f = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            f.insert(k.to_owned(), v);
        };
        match self {
            Action::Create { creator, nonce } => {
                put("creator", creator.to_string());
                put("nonce", hex::encode(nonce));
            }
            Action::AddMember {
                member,
                device,
                role,
            } => {
                put("member", member.to_string());
                put("device", device.to_string());
                put("role", role.to_string());
            }
            Action::ChangeRole { member, role } => {
                put("member", member.to_string());
                put("role", role.to_string());
            }
            Action::RemoveMember { member } => put("member", member.to_string()),
            Action::LinkDevice { member, device } | Action::UnlinkDevice { member, device } => {
                put("member", member.to_string());
                put("device", device.to_string());
            }
            Action::InviteIssued {
                invite_key,
                role,
                expires_at,
                uses,
                member,
            } => {
                put("invite_key", invite_key.to_string());
                put("role", role.to_string());
                put("expires_at", expires_at.millis().to_string());
                put("uses", uses.to_string());
                if let Some(member) = member {
                    put("member", member.to_string());
                }
            }
            Action::InviteRedeemed {
                invite_key,
                member,
                device,
                role,
                proof,
            } => {
                put("invite_key", invite_key.to_string());
                put("member", member.to_string());
                put("device", device.to_string());
                put("role", role.to_string());
                put("proof", hex::encode(proof));
            }
        }
        f
    }

    /// An unsigned entry for this action (sign it with [`sign_entry`]).
    pub fn to_entry(&self, id: ItemId, at: Timestamp) -> Entry {
        Entry {
            id,
            kind: self.kind(),
            author_device: String::new(),
            at,
            fields: self.fields(),
            signature: Vec::new(),
        }
    }

    /// A signed entry for this action.
    pub fn signed(&self, key: &DeviceKey, space: SpaceId, id: ItemId, at: Timestamp) -> Entry {
        let mut entry = self.to_entry(id, at);
        sign_entry(key, space, &mut entry);
        entry
    }

    /// Reads an entry's typed arguments. Fields other than the kind's own are ignored (they
    /// are still covered by the signature).
    pub fn parse(entry: &Entry) -> Result<Action, FieldError> {
        let f = &entry.fields;
        Ok(match entry.kind {
            EntryKind::Create => Action::Create {
                creator: field(f, "creator")?,
                nonce: hex_field(f, "nonce")?,
            },
            EntryKind::AddMember => Action::AddMember {
                member: field(f, "member")?,
                device: field(f, "device")?,
                role: field(f, "role")?,
            },
            EntryKind::ChangeRole => Action::ChangeRole {
                member: field(f, "member")?,
                role: field(f, "role")?,
            },
            EntryKind::RemoveMember => Action::RemoveMember {
                member: field(f, "member")?,
            },
            EntryKind::LinkDevice => Action::LinkDevice {
                member: field(f, "member")?,
                device: field(f, "device")?,
            },
            EntryKind::UnlinkDevice => Action::UnlinkDevice {
                member: field(f, "member")?,
                device: field(f, "device")?,
            },
            EntryKind::InviteIssued => Action::InviteIssued {
                invite_key: field(f, "invite_key")?,
                role: field(f, "role")?,
                expires_at: timestamp_field(f, "expires_at")?,
                uses: field(f, "uses")?,
                member: opt_field(f, "member")?,
            },
            EntryKind::InviteRedeemed => Action::InviteRedeemed {
                invite_key: field(f, "invite_key")?,
                member: field(f, "member")?,
                device: field(f, "device")?,
                role: field(f, "role")?,
                proof: hex_vec_field(f, "proof")?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(fields: &[(&str, &str)]) -> Entry {
        Entry {
            id: ItemId::from_bytes([1; 16]),
            kind: EntryKind::ChangeRole,
            author_device: String::new(),
            at: Timestamp(5),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            signature: Vec::new(),
        }
    }

    #[test]
    fn signing_bytes_are_unambiguous_across_field_boundaries() {
        let space = SpaceId::from_bytes([2; 16]);
        let a = signing_bytes(space, &entry(&[("ab", "c")]));
        let b = signing_bytes(space, &entry(&[("a", "bc")]));
        assert_ne!(
            a, b,
            "moving a byte from key to value must change the bytes"
        );
        let c = signing_bytes(SpaceId::from_bytes([3; 16]), &entry(&[("ab", "c")]));
        assert_ne!(a, c, "the space id must be covered");
        assert!(a.windows(ENTRY_DOMAIN.len()).any(|w| w == ENTRY_DOMAIN));
    }

    #[test]
    fn every_action_parses_back_from_its_entry() {
        let person = PersonId::from_bytes([4; 16]);
        let device = DeviceKey::generate([5; 32]).device_id();
        let actions = [
            Action::Create {
                creator: person,
                nonce: [9; 16],
            },
            Action::AddMember {
                member: person,
                device,
                role: Role::Observer,
            },
            Action::ChangeRole {
                member: person,
                role: Role::Learner,
            },
            Action::RemoveMember { member: person },
            Action::LinkDevice {
                member: person,
                device,
            },
            Action::UnlinkDevice {
                member: person,
                device,
            },
            Action::InviteIssued {
                invite_key: InviteKey(device.0),
                role: Role::Learner,
                expires_at: Timestamp(-3),
                uses: 2,
                member: Some(person),
            },
            Action::InviteRedeemed {
                invite_key: InviteKey(device.0),
                member: person,
                device,
                role: Role::Learner,
                proof: vec![1, 2, 3],
            },
        ];
        for action in actions {
            let e = action.to_entry(ItemId::from_bytes([0; 16]), Timestamp(1));
            assert_eq!(Action::parse(&e), Ok(action));
        }
    }
}
