//! The fold: from a set of signed entries to who is a member with which role. The rules are
//! listed in the [module docs](super).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use cohort_model::{Entry, EntryKind, ItemId, PersonId, Role, SpaceId, Timestamp};

use super::entry::{Action, EntryError, FieldError, space_id_for, verify_entry};
use super::invite::verify_redeem_proof;
use super::keys::InviteKey;
use super::keys::SignatureError;
use crate::DeviceId;

/// A current member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Their role.
    pub role: Role,
    /// Their linked devices.
    pub devices: BTreeSet<DeviceId>,
}

/// A removed member, as the removal found them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// When the removal was written.
    pub at: Timestamp,
    /// Who removed them.
    pub by: PersonId,
    /// Their role when removed.
    pub role: Role,
    /// Their devices when removed.
    pub devices: BTreeSet<DeviceId>,
}

/// An issued invite and how often it was redeemed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteState {
    /// Who issued it.
    pub issuer: PersonId,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// The role a redeemer gets.
    pub role: Role,
    /// Redemptions at or after this time are rejected.
    pub expires_at: Timestamp,
    /// How many redemptions it allows.
    pub uses: u32,
    /// How many valid redemptions the fold applied.
    pub redeemed: u32,
    /// For a device-link invite: the member a redeeming device joins.
    pub member: Option<PersonId>,
}

impl InviteState {
    /// Whether the invite can still be redeemed at `now` (not expired, uses left). Whether
    /// its issuer still may issue it is checked by the fold at redemption.
    pub fn is_open(&self, now: Timestamp) -> bool {
        now < self.expires_at && self.redeemed < self.uses
    }
}

/// Why an entry was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    /// The signature or the author field is bad.
    #[error("{0}")]
    Signature(#[from] EntryError),
    /// A field is missing or malformed.
    #[error("{0}")]
    Field(#[from] FieldError),
    /// An entry with this id was already applied.
    #[error("an entry with this id was already applied")]
    DuplicateId,
    /// No valid `create` precedes the entry.
    #[error("the space has not been created (no valid create entry before this one)")]
    NotCreated,
    /// A `create` after the first valid one.
    #[error("the space was already created")]
    AlreadyCreated,
    /// A `create` whose author and nonce do not give this space's id.
    #[error("create entry's author and nonce do not derive this space's id")]
    SpaceMismatch,
    /// The signing device belongs to no current member.
    #[error("the signing device belongs to no current member")]
    NotMember,
    /// The signing device's member lacks the right to make this entry.
    #[error("a {role} may not {what}")]
    NoRight {
        /// The signer's role.
        role: Role,
        /// What they tried.
        what: &'static str,
    },
    /// The entry names a person who is not a current member.
    #[error("{0} is not a current member")]
    NotAMember(PersonId),
    /// `add_member` or `invite_redeemed` for a person who is (or was) a member.
    #[error("{0} is already a member, or was removed (re-admit with add_member)")]
    AlreadyMember(PersonId),
    /// The device is already bound to a person in this space.
    #[error("device {0} already belongs to a member of this space")]
    DeviceTaken(DeviceId),
    /// `link_device` signed by a device of another person.
    #[error("a member may link devices only to themselves")]
    NotOwnDevice,
    /// An invite key that was already issued.
    #[error("invite {0} was already issued")]
    InviteExists(InviteKey),
    /// An invite with no uses or already expired when issued.
    #[error("invite must allow at least one use and expire after it is issued")]
    BadInviteTerms,
    /// `unlink_device` for a device that is not a current device of that member.
    #[error("device {0} is not a current device of this member")]
    NotLinked(DeviceId),
    /// A redemption of an invite that was never issued.
    #[error("no invite {0} was issued")]
    UnknownInvite(InviteKey),
    /// A redemption at or after the invite's expiry.
    #[error("invite expired at {expires_at:?}")]
    InviteExpired {
        /// The invite's expiry.
        expires_at: Timestamp,
    },
    /// A redemption beyond the invite's use count.
    #[error("invite was already redeemed {0} time(s), all its uses")]
    InviteUsedUp(u32),
    /// The redemption's proof does not verify: the redeemer does not hold the secret.
    #[error("redemption proof does not verify: {0}")]
    BadProof(SignatureError),
    /// The redemption was not signed by the device it admits.
    #[error("a redemption must be signed by the device it admits")]
    NotRedeemingDevice,
    /// The redemption's role or member differs from the invite's.
    #[error("redemption does not match the invite's terms: {0}")]
    InviteMismatch(&'static str),
    /// The invite's issuer was removed or lost the right to issue it.
    #[error("the invite's issuer is no longer a member with the right to issue it")]
    IssuerRevoked,
}

/// An entry the fold did not apply, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The entry's id.
    pub entry_id: ItemId,
    /// Why it was not applied.
    pub reason: RejectReason,
}

/// The membership of a space: the result of folding its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipState {
    space: SpaceId,
    creator: Option<PersonId>,
    members: BTreeMap<PersonId, Member>,
    removed: BTreeMap<PersonId, Removal>,
    owners: BTreeMap<DeviceId, PersonId>,
    invites: BTreeMap<InviteKey, InviteState>,
    applied: BTreeSet<ItemId>,
}

fn rank(kind: EntryKind) -> u8 {
    match kind {
        EntryKind::Create => 0,
        EntryKind::RemoveMember | EntryKind::UnlinkDevice => 1,
        EntryKind::InviteRedeemed => 3,
        EntryKind::AddMember
        | EntryKind::ChangeRole
        | EntryKind::LinkDevice
        | EntryKind::InviteIssued => 2,
    }
}

/// The fold order: by time, then kind rank (create, removals and unlinks, others,
/// redemptions), then id,
/// then every remaining byte, so that distinct entries never compare equal.
fn fold_order(a: &Entry, b: &Entry) -> Ordering {
    (a.at, rank(a.kind), a.id)
        .cmp(&(b.at, rank(b.kind), b.id))
        .then_with(|| a.author_device.cmp(&b.author_device))
        .then_with(|| a.kind.as_str().cmp(b.kind.as_str()))
        .then_with(|| a.fields.cmp(&b.fields))
        .then_with(|| a.signature.cmp(&b.signature))
}

impl MembershipState {
    /// An empty state for `space` (no create yet).
    pub fn new(space: SpaceId) -> MembershipState {
        MembershipState {
            space,
            creator: None,
            members: BTreeMap::new(),
            removed: BTreeMap::new(),
            owners: BTreeMap::new(),
            invites: BTreeMap::new(),
            applied: BTreeSet::new(),
        }
    }

    /// Folds a space's log. The result and the rejections (in fold order) do not depend on
    /// the order of `entries`. Never panics on any input.
    pub fn fold(space: SpaceId, entries: &[Entry]) -> (MembershipState, Vec<Rejected>) {
        let mut sorted: Vec<&Entry> = entries.iter().collect();
        sorted.sort_by(|a, b| fold_order(a, b));
        let mut state = MembershipState::new(space);
        let mut rejected = Vec::new();
        for entry in sorted {
            if let Err(reason) = state.apply(entry) {
                rejected.push(Rejected {
                    entry_id: entry.id,
                    reason,
                });
            }
        }
        (state, rejected)
    }

    /// The space this state is for.
    pub fn space(&self) -> SpaceId {
        self.space
    }

    /// The person who created the space, once a valid create was folded.
    pub fn creator(&self) -> Option<PersonId> {
        self.creator
    }

    /// Current members.
    pub fn members(&self) -> &BTreeMap<PersonId, Member> {
        &self.members
    }

    /// Removed members (and not re-added), with their removal.
    pub fn removed(&self) -> &BTreeMap<PersonId, Removal> {
        &self.removed
    }

    /// Issued invites by key.
    pub fn invites(&self) -> &BTreeMap<InviteKey, InviteState> {
        &self.invites
    }

    /// The current member a device belongs to, with their role.
    pub fn role_of_device(&self, device: DeviceId) -> Option<(PersonId, Role)> {
        let person = self.owners.get(&device)?;
        let member = self.members.get(person)?;
        member
            .devices
            .contains(&device)
            .then_some((*person, member.role))
    }

    /// The person a device belongs to or belonged to in this space (unlinked and removed
    /// devices stay bound to their person for good).
    pub fn owner_of(&self, device: DeviceId) -> Option<PersonId> {
        self.owners.get(&device).copied()
    }

    /// Whether the device may receive the space's documents (any current member's device).
    pub fn may_read(&self, device: DeviceId) -> bool {
        self.role_of_device(device).is_some()
    }

    /// Whether the device may change the space's documents (facilitators and learners).
    pub fn may_write(&self, device: DeviceId) -> bool {
        matches!(
            self.role_of_device(device),
            Some((_, Role::Facilitator | Role::Learner))
        )
    }

    /// Whether the device may admit people: add members and issue invites (facilitators).
    pub fn may_admit(&self, device: DeviceId) -> bool {
        matches!(self.role_of_device(device), Some((_, Role::Facilitator)))
    }

    /// Whether the person was removed (and not re-added since).
    pub fn is_removed(&self, person: PersonId) -> bool {
        self.removed.contains_key(&person)
    }

    /// Applies one entry on top of this state (entries must come in fold order for the
    /// result to match [`MembershipState::fold`]).
    fn apply(&mut self, entry: &Entry) -> Result<(), RejectReason> {
        if self.applied.contains(&entry.id) {
            return Err(RejectReason::DuplicateId);
        }
        let author = verify_entry(self.space, entry)?;
        let action = Action::parse(entry)?;
        match action {
            Action::Create { creator, nonce } => {
                if self.creator.is_some() {
                    return Err(RejectReason::AlreadyCreated);
                }
                if space_id_for(&author, nonce) != self.space {
                    return Err(RejectReason::SpaceMismatch);
                }
                self.creator = Some(creator);
                self.admit(creator, author, Role::Facilitator);
            }
            _ if self.creator.is_none() => return Err(RejectReason::NotCreated),
            Action::AddMember {
                member,
                device,
                role,
            } => {
                self.require_facilitator(author, "add members")?;
                if self.members.contains_key(&member) {
                    return Err(RejectReason::AlreadyMember(member));
                }
                self.require_free_device(device, member)?;
                self.removed.remove(&member);
                self.admit(member, device, role);
            }
            Action::ChangeRole { member, role } => {
                self.require_facilitator(author, "change roles")?;
                let target = self
                    .members
                    .get_mut(&member)
                    .ok_or(RejectReason::NotAMember(member))?;
                target.role = role;
            }
            Action::RemoveMember { member } => {
                let by = self.removal_right(author, member)?;
                let target = self
                    .members
                    .remove(&member)
                    .ok_or(RejectReason::NotAMember(member))?;
                self.removed.insert(
                    member,
                    Removal {
                        at: entry.at,
                        by,
                        role: target.role,
                        devices: target.devices,
                    },
                );
            }
            Action::LinkDevice { member, device } => {
                let (person, _) = self.role_of_device(author).ok_or(RejectReason::NotMember)?;
                if person != member {
                    return Err(RejectReason::NotOwnDevice);
                }
                self.require_free_device(device, member)?;
                self.admit(member, device, Role::Observer);
            }
            Action::UnlinkDevice { member, device } => {
                let (person, _) = self.role_of_device(author).ok_or(RejectReason::NotMember)?;
                if person != member {
                    return Err(RejectReason::NotOwnDevice);
                }
                let target = self
                    .members
                    .get_mut(&member)
                    .ok_or(RejectReason::NotAMember(member))?;
                // The device stays this person's (`owners`), so nobody else can take it and
                // only they can link it again.
                if !target.devices.remove(&device) {
                    return Err(RejectReason::NotLinked(device));
                }
            }
            Action::InviteIssued {
                invite_key,
                role,
                expires_at,
                uses,
                member,
            } => {
                let (issuer, issuer_role) =
                    self.role_of_device(author).ok_or(RejectReason::NotMember)?;
                may_issue(issuer, issuer_role, role, member)?;
                if self.invites.contains_key(&invite_key) {
                    return Err(RejectReason::InviteExists(invite_key));
                }
                if uses == 0 || expires_at <= entry.at {
                    return Err(RejectReason::BadInviteTerms);
                }
                self.invites.insert(
                    invite_key,
                    InviteState {
                        issuer,
                        issued_at: entry.at,
                        role,
                        expires_at,
                        uses,
                        redeemed: 0,
                        member,
                    },
                );
            }
            Action::InviteRedeemed {
                invite_key,
                member,
                device,
                role,
                proof,
            } => {
                if device != author {
                    return Err(RejectReason::NotRedeemingDevice);
                }
                let invite = self
                    .invites
                    .get(&invite_key)
                    .ok_or(RejectReason::UnknownInvite(invite_key))?;
                if entry.at >= invite.expires_at {
                    return Err(RejectReason::InviteExpired {
                        expires_at: invite.expires_at,
                    });
                }
                if invite.redeemed >= invite.uses {
                    return Err(RejectReason::InviteUsedUp(invite.redeemed));
                }
                verify_redeem_proof(&invite_key, &device, &proof)
                    .map_err(RejectReason::BadProof)?;
                if role != invite.role {
                    return Err(RejectReason::InviteMismatch(
                        "role differs from the invite's",
                    ));
                }
                let issuer_now = self
                    .members
                    .get(&invite.issuer)
                    .ok_or(RejectReason::IssuerRevoked)?;
                may_issue(invite.issuer, issuer_now.role, invite.role, invite.member)
                    .map_err(|_| RejectReason::IssuerRevoked)?;
                match invite.member {
                    Some(linked) if linked != member => {
                        return Err(RejectReason::InviteMismatch(
                            "member differs from the device-link invite's",
                        ));
                    }
                    Some(_) => {}
                    None => {
                        if self.members.contains_key(&member) || self.removed.contains_key(&member)
                        {
                            return Err(RejectReason::AlreadyMember(member));
                        }
                    }
                }
                self.require_free_device(device, member)?;
                let role = invite.role;
                if let Some(invite) = self.invites.get_mut(&invite_key) {
                    invite.redeemed += 1;
                }
                self.admit(member, device, role);
            }
        }
        self.applied.insert(entry.id);
        Ok(())
    }

    /// Adds `device` to `person` (creating them with `role` if they are not a member).
    fn admit(&mut self, person: PersonId, device: DeviceId, role: Role) {
        self.owners.insert(device, person);
        self.members
            .entry(person)
            .or_insert_with(|| Member {
                role,
                devices: BTreeSet::new(),
            })
            .devices
            .insert(device);
    }

    fn require_facilitator(
        &self,
        author: DeviceId,
        what: &'static str,
    ) -> Result<PersonId, RejectReason> {
        match self.role_of_device(author) {
            None => Err(RejectReason::NotMember),
            Some((person, Role::Facilitator)) => Ok(person),
            Some((_, role)) => Err(RejectReason::NoRight { role, what }),
        }
    }

    /// A device may join `person` if no one else in this space owns it and it is not already
    /// one of their current devices.
    fn require_free_device(&self, device: DeviceId, person: PersonId) -> Result<(), RejectReason> {
        match self.owners.get(&device) {
            None => Ok(()),
            Some(owner)
                if *owner == person
                    && self
                        .members
                        .get(&person)
                        .is_none_or(|m| !m.devices.contains(&device)) =>
            {
                Ok(())
            }
            Some(_) => Err(RejectReason::DeviceTaken(device)),
        }
    }

    /// Who may remove `target`: a current facilitator, or, for concurrent mutual removals, a
    /// removed facilitator whose own remover is `target`.
    fn removal_right(&self, author: DeviceId, target: PersonId) -> Result<PersonId, RejectReason> {
        match self.require_facilitator(author, "remove members") {
            Ok(person) => Ok(person),
            Err(RejectReason::NotMember) => {
                let person = self.owners.get(&author).ok_or(RejectReason::NotMember)?;
                match self.removed.get(person) {
                    Some(removal)
                        if removal.by == target
                            && removal.role == Role::Facilitator
                            && removal.devices.contains(&author)
                            && *person != target =>
                    {
                        Ok(*person)
                    }
                    _ => Err(RejectReason::NotMember),
                }
            }
            Err(other) => Err(other),
        }
    }
}

/// Whether a member with `issuer_role` may issue an invite for `role` (and, for a device-link
/// invite, for `member`).
fn may_issue(
    issuer: PersonId,
    issuer_role: Role,
    role: Role,
    member: Option<PersonId>,
) -> Result<(), RejectReason> {
    match member {
        Some(member) if member != issuer => Err(RejectReason::NotOwnDevice),
        Some(_) if role != issuer_role => Err(RejectReason::InviteMismatch(
            "a device-link invite must carry its member's role",
        )),
        Some(_) => Ok(()),
        None if issuer_role == Role::Facilitator => Ok(()),
        None => Err(RejectReason::NoRight {
            role: issuer_role,
            what: "issue invites",
        }),
    }
}
