//! Invites, joining and admission: how a new person becomes a member of a cohort.
//!
//! 1. A facilitator creates an invite ([`Core::create_invite`]): a random secret whose
//!    derived public key, role, use count and expiry go into the signed membership log; the
//!    secret goes only into the ticket text handed to the joiner.
//! 2. The joiner redeems the ticket ([`Core::join`]): it signs an `invite_redeemed` entry with
//!    its own device key, proving possession of the secret, and keeps it as a pending join
//!    (in the store, so it survives restarts) until a member admits it.
//! 3. When the joiner connects to any member, its sync engine presents that entry in a
//!    `Redeem` frame. The member's host checks it ([`Core::admit`], called from the sync
//!    host) against its own fold and clock, appends it to the log, and from then on every
//!    member's fold lists the joiner.
//!
//! Every member also keeps a *member card* in each of its cohorts: a profile document in the
//! cohort's space with its display name and device, so other members see names (the
//! person's main profile lives in their private personal space).

use std::collections::BTreeMap;

use cohort_model::{DocId, Entry, Membership, Profile, Role, SpaceId, Timestamp};
use cohort_sync::DeviceId;
use cohort_sync::membership::{
    Action, Invite, MembershipState, RejectReason, Ticket, redeem_action,
};
use cohort_sync::protocol::RefuseReason;
use serde::{Deserialize, Serialize};

use super::{Core, Fts};
use crate::error::{CoreError, Result};
use crate::sync_views::{InviteView, JoinView};

/// The store key holding pending joins.
const JOINS_KEY: &str = "sync.joins";

/// A join waiting for a member to admit it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct PendingJoin {
    /// The signed redemption this device presents.
    pub entry: Entry,
    /// Where the inviter said it can be reached.
    pub addrs: Vec<String>,
    /// The last refusal a member gave, if any.
    pub refused: Option<String>,
}

/// Longest an invite may stay open.
pub const MAX_INVITE_DAYS: u32 = 365;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A human sentence for a refusal.
pub fn refusal_message(reason: RefuseReason) -> String {
    match reason {
        RefuseReason::NotAuthorized => {
            "the peer does not hold this cohort or does not let this device in".into()
        }
        RefuseReason::UnsupportedProtocol => {
            "the peer runs an incompatible version of Cohort".into()
        }
        RefuseReason::TooManySessions => "the peer has too many cohorts open with us".into(),
        RefuseReason::InviteInvalid => {
            "the invite is not valid: the ticket was altered, or it is for another device".into()
        }
        RefuseReason::InviteExpired => "the invite has expired; ask for a new one".into(),
        RefuseReason::InviteUsedUp => {
            "the invite was already used as many times as it allows; ask for a new one".into()
        }
        RefuseReason::AdmissionUnavailable => {
            "this member cannot admit you yet (it has not seen the invite); another member may"
                .into()
        }
        RefuseReason::Other(code) => format!("refused (reason {code})"),
    }
}

impl Core {
    /// Creates an invite to `space` for `uses` people with `role`, open for `days` days,
    /// and returns its ticket holding `addrs` (where this device can be reached). Only a
    /// facilitator can invite.
    pub fn create_invite(
        &mut self,
        space: SpaceId,
        role: Role,
        uses: u32,
        days: u32,
        addrs: Vec<String>,
    ) -> Result<InviteView> {
        self.not_personal(space)?;
        if uses == 0 || uses > 1000 {
            return Err(CoreError::InvalidInput(
                "an invite allows between 1 and 1000 uses".into(),
            ));
        }
        if days == 0 || days > MAX_INVITE_DAYS {
            return Err(CoreError::InvalidInput(format!(
                "an invite stays open between 1 and {MAX_INVITE_DAYS} days"
            )));
        }
        let mut secret = [0u8; 32];
        secret[..16].copy_from_slice(&self.ids.next_id());
        secret[16..].copy_from_slice(&self.ids.next_id());
        let expires_at = Timestamp(self.clock.now().millis() + i64::from(days) * DAY_MS);
        let invite = Invite::new(secret, role, expires_at, uses);
        self.append_membership(space, invite.issue(), "issue invite")?;
        Ok(InviteView {
            ticket: invite.ticket(space, addrs.clone()).encode(),
            addrs,
            space,
            role,
            uses,
            expires_at,
        })
    }

    /// Redeems a ticket: signs this device's redemption and keeps it until a member of the
    /// cohort admits it (the node presents it to every peer it reaches). Returns the space
    /// and where to look for the inviter.
    pub fn join(&mut self, ticket: &str) -> Result<JoinView> {
        let ticket = Ticket::decode(ticket).map_err(|e| CoreError::InvalidInput(e.to_string()))?;
        let space = ticket.space;
        if self.is_member(space) {
            return Err(CoreError::InvalidInput(format!(
                "this device is already a member of the cohort {}",
                space.short()
            )));
        }
        if ticket.member.is_some() {
            return Err(CoreError::InvalidInput(
                "this ticket links a device to an existing person; use it with `device add`".into(),
            ));
        }
        let action = redeem_action(&ticket.secret, self.me.person, self.device(), ticket.role);
        let id = self.new_item();
        let entry = action.signed(&self.key, space, id, self.clock.now());
        let request = serde_json::to_vec(&entry)
            .map_err(|e| CoreError::InvalidInput(format!("cannot encode the redemption: {e}")))?;
        let mut joins = self.pending_joins()?;
        joins.insert(
            space,
            PendingJoin {
                entry,
                addrs: ticket.addrs.clone(),
                refused: None,
            },
        );
        self.save_joins(&joins)?;
        self.sync.requests.insert(space, request);
        self.expect_space(space);
        // Dialed connections offer the space on the engine's next round; a running node
        // dials the inviter now rather than on its next tick.
        self.sync.membership_changed = true;
        if let Some(link) = &self.node {
            link.sync_now();
        }
        Ok(JoinView {
            space,
            role: ticket.role,
            addrs: ticket.addrs,
        })
    }

    /// Whether this device is a member of `space` (per its folded log).
    pub fn is_member(&self, space: SpaceId) -> bool {
        self.sync
            .memberships
            .get(&space)
            .is_some_and(|s| s.role_of_device(self.device()).is_some())
    }

    /// Joins not admitted yet, by space.
    pub(super) fn pending_joins(&self) -> Result<BTreeMap<SpaceId, PendingJoin>> {
        match self.store.kv_get(JOINS_KEY)? {
            None => Ok(BTreeMap::new()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                CoreError::InvalidInput(format!("the data dir's pending joins are damaged: {e}"))
            }),
        }
    }

    pub(super) fn save_joins(&mut self, joins: &BTreeMap<SpaceId, PendingJoin>) -> Result<()> {
        let bytes = serde_json::to_vec(joins)
            .map_err(|e| CoreError::InvalidInput(format!("cannot record pending joins: {e}")))?;
        self.store.kv_set(JOINS_KEY, &bytes)?;
        Ok(())
    }

    /// Loads pending joins into the sync state (on open).
    pub(super) fn load_joins(&mut self) -> Result<()> {
        for (space, join) in self.pending_joins()? {
            if self.is_member(space) {
                continue;
            }
            let request = serde_json::to_vec(&join.entry).map_err(|e| {
                CoreError::InvalidInput(format!("cannot encode a pending join: {e}"))
            })?;
            self.sync.requests.insert(space, request);
            self.sync.joining.insert(space);
        }
        Ok(())
    }

    /// Records a member's refusal of a pending join (shown by `sync status`).
    pub(super) fn note_refusal(&mut self, space: SpaceId, reason: RefuseReason) -> Result<()> {
        if self.sync.linking.as_ref().is_some_and(|l| l.space == space) {
            return self.note_link_refusal(reason);
        }
        let mut joins = self.pending_joins()?;
        if let Some(join) = joins.get_mut(&space) {
            join.refused = Some(refusal_message(reason));
            self.save_joins(&joins)?;
        }
        Ok(())
    }

    /// Called when this device's membership of `space` is confirmed by its log: drops the
    /// pending join and writes this person's member card there.
    pub(super) fn joined(&mut self, space: SpaceId) -> Result<()> {
        self.sync.requests.remove(&space);
        if space == self.me.personal_space
            || self.sync.linking.as_ref().is_some_and(|l| l.space == space)
        {
            // A personal space has no member card; a linked device becomes its person's once
            // their profile is here too (see `try_finish_link`).
            return Ok(());
        }
        let mut joins = self.pending_joins()?;
        if joins.remove(&space).is_some() {
            self.save_joins(&joins)?;
        }
        self.ensure_member_card(space)
    }

    /// Checks a peer's admission request for `space` and, if it is a valid redemption of an
    /// open invite by that very device, appends it to the log.
    pub(super) fn admit(
        &mut self,
        space: SpaceId,
        peer: DeviceId,
        request: &[u8],
    ) -> std::result::Result<(), RefuseReason> {
        if !self.is_member(space) {
            return Err(RefuseReason::NotAuthorized);
        }
        let state = self
            .sync
            .memberships
            .get(&space)
            .ok_or(RefuseReason::NotAuthorized)?;
        let entry: Entry =
            serde_json::from_slice(request).map_err(|_| RefuseReason::InviteInvalid)?;
        let Ok(Action::InviteRedeemed {
            invite_key, device, ..
        }) = Action::parse(&entry)
        else {
            return Err(RefuseReason::InviteInvalid);
        };
        if device != peer {
            return Err(RefuseReason::InviteInvalid);
        }
        let invite = state
            .invites()
            .get(&invite_key)
            .ok_or(RefuseReason::AdmissionUnavailable)?;
        let now = self.clock.now();
        if now >= invite.expires_at {
            return Err(RefuseReason::InviteExpired);
        }
        if invite.redeemed >= invite.uses {
            return Err(RefuseReason::InviteUsedUp);
        }
        let log = self
            .membership_log(space)
            .map_err(|_| RefuseReason::AdmissionUnavailable)?;
        let mut entries = self
            .doc(log)
            .ok()
            .and_then(|doc| Membership::read(doc).ok())
            .map(|m| m.entries)
            .ok_or(RefuseReason::AdmissionUnavailable)?;
        entries.push(entry.clone());
        let (folded, rejected) = MembershipState::fold(space, &entries);
        if let Some(r) = rejected.iter().find(|r| r.entry_id == entry.id) {
            tracing::info!(%space, %peer, reason = %r.reason, "admission refused");
            return Err(match r.reason {
                RejectReason::InviteExpired { .. } => RefuseReason::InviteExpired,
                RejectReason::InviteUsedUp(_) => RefuseReason::InviteUsedUp,
                RejectReason::UnknownInvite(_) => RefuseReason::AdmissionUnavailable,
                _ => RefuseReason::InviteInvalid,
            });
        }
        match folded.role_of_device(peer) {
            None => return Err(RefuseReason::InviteInvalid),
            // The personal space admits only this person's own new devices.
            Some((person, _)) if space == self.me.personal_space && person != self.me.person => {
                return Err(RefuseReason::InviteInvalid);
            }
            Some(_) => {}
        }
        self.edit(log, "admit member", Fts::Keep, |doc, _| {
            Membership::append(doc, &entry)
        })
        .map_err(|e| {
            tracing::warn!(%space, %peer, error = %e, "could not record an admission");
            RefuseReason::AdmissionUnavailable
        })?;
        tracing::info!(%space, %peer, "admitted a new member");
        Ok(())
    }

    /// The id of `person`'s member card in `space`: derived, so it is the same wherever it
    /// is computed.
    pub(super) fn member_card_id(&self, space: SpaceId) -> DocId {
        let mut h = blake3::Hasher::new();
        h.update(b"cohort member card v1");
        h.update(self.me.person.as_bytes());
        h.update(space.as_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(&h.finalize().as_bytes()[..16]);
        DocId::from_bytes(id)
    }

    /// Writes this person's member card in `space` unless it is there.
    pub(super) fn ensure_member_card(&mut self, space: SpaceId) -> Result<()> {
        let id = self.member_card_id(space);
        if self.store.meta(id)?.is_some() {
            return Ok(());
        }
        let others = self
            .sync
            .memberships
            .get(&space)
            .and_then(|s| s.members().get(&self.me.person))
            .is_some_and(|m| m.devices.iter().any(|d| *d != self.device()));
        if others {
            // Another device of this person wrote the card; it arrives with the cohort (and
            // this device adds itself to it then, see `reconcile_devices`).
            return Ok(());
        }
        let name = self.me()?.display_name;
        let person = self.me.person;
        let actor = self.actor.to_hex_string();
        let device_name = self.device_name();
        let mut batch = self.batch();
        self.create_in(&mut batch, id, "create member card", |doc, now| {
            Profile::create(doc, id, space, person, &name)?;
            Profile::add_device(doc, &actor, &device_name, now)
        })?;
        self.commit(batch)
    }

    /// This person's member cards (to rename them with the profile).
    pub(super) fn member_cards(&self) -> Result<Vec<DocId>> {
        let mut out = Vec::new();
        for space in self.sync.memberships.keys() {
            let id = self.member_card_id(*space);
            if self.store.meta(id)?.is_some() {
                out.push(id);
            }
        }
        Ok(out)
    }
}
