//! The signed membership log of a space, its deterministic fold, and invites.
//!
//! Every entry of a space's membership log ([`cohort_model::Membership`]) is signed by a
//! device key ([`DeviceKey`]) over [`signing_bytes`]: the prefix `cohort membership v1`, the
//! space id, and every field of the entry but the signature, each length-prefixed, with the
//! `fields` map in sorted key order. [`MembershipState::fold`] turns the entries into the
//! space's members; an entry that breaks a rule is not applied and is reported as
//! [`Rejected`] (the fold never panics).
//!
//! # Fold order
//!
//! Entries are applied one by one in a total order that depends only on their content: by
//! `at`, then by kind rank (`create` first, then `remove_member` and `unlink_device`, then the
//! other kinds, then `invite_redeemed`), then by id, then by the remaining bytes. The input order never matters.
//! "Before" and "after" below mean in this order. Time is the author's claimed clock: a member
//! who lies about time can place an entry earlier than it was written (see "Open" below).
//!
//! # Rules
//!
//! 1. **Signatures.** An entry whose `author_device` is not a device id in canonical form (64
//!    lowercase hex digits), that is unsigned, or whose signature does not verify (strict
//!    Ed25519) is rejected. So is an entry with a missing or malformed field; extra fields are
//!    ignored (they are still signed). An entry whose id was already applied is rejected.
//! 2. **Create** `{creator, nonce}`. Valid only if `space_id_for(author device, nonce)` is
//!    the log's space id, so only the device that made the space id can create it. The first
//!    valid create makes `creator` a facilitator with the signing device; later creates are
//!    rejected, and so is every entry before the first valid create.
//! 3. **Roles.** Facilitators may add members, change anyone's role (their own too) and
//!    remove anyone (themselves too: nothing stops the last facilitator from leaving), and
//!    issue invites for any role. Learners and observers may do none of these: admission is a
//!    facilitator's act, so that removing a member cannot be undone by invites they issued
//!    for friends. Learners may write the space's documents; observers only read.
//!    Every member may link their own devices.
//! 4. **Add member** `{member, device, role}` (facilitator): `member` must not be a current
//!    member and `device` must not belong to anyone else in the space (a device belongs to at
//!    most one person per space, for good). Re-adding a removed person is allowed and lifts
//!    the removal.
//! 5. **Change role** `{member, role}` (facilitator): `member` must be a current member.
//! 6. **Remove member** `{member}` (facilitator): `member` must be a current member.
//!    *Strong remove*: from the removal on, the removed person's devices belong to no
//!    member, so every entry of theirs at or after the removal time is void (at the same
//!    millisecond, removals sort before other kinds). *Concurrent mutual removals both
//!    apply*: a removed facilitator may still remove the very member who removed them (as
//!    if the two removals had crossed in flight); any other act of theirs stays void.
//! 7. **Link device** `{member, device}`: signed by a current member's device, `member` being
//!    that same person; `device` must be free (or a former device of theirs). **Unlink
//!    device** `{member, device}`: the same signer rule; `device` must be a current device of
//!    `member`. From the unlink on the device belongs to no member (its entries at or after
//!    that time are void, as for a removal, and unlinks sort with removals), yet stays bound
//!    to its person: nobody else can take it, and only that person can link it again. A
//!    member may unlink every device they have, the one signing too.
//! 8. **Invite issued** `{invite_key, role, expires_at, uses[, member]}`: `invite_key` is the
//!    public key derived from the invite secret ([`Invite`]); it must not have been issued
//!    before, `uses` ≥ 1 and `expires_at` after the entry's time. Without `member` only a
//!    facilitator may issue it (any role). With `member` it is a *device-link* invite: any
//!    member may issue one for themselves, carrying their own role.
//! 9. **Invite redeemed** `{invite_key, member, device, role, proof}`: may be signed by any
//!    device, member or not, but it must be signed by `device` itself. Valid only if the
//!    invite was issued before, the entry's time is before `expires_at`, fewer than `uses`
//!    redemptions were applied before it, `proof` is a signature of `device` by the invite's
//!    derived key ([`redeem_proof`]), `role` is the invite's role, the issuer is still a
//!    member with the right to issue that invite (removing or demoting the issuer revokes
//!    their open invites), and `device` is free. A plain invite admits `member` as a new
//!    person with the invite's role (`member` must never have been a member: re-admitting a
//!    removed person is a facilitator's `add_member`); a device-link invite links `device` to
//!    its member, and `member` must be that member.
//!
//! # Access
//!
//! [`MembershipState::may_read`]: any current member's device. [`MembershipState::may_write`]:
//! facilitators' and learners' devices. [`MembershipState::may_admit`]: facilitators' devices.
//!
//! # Open
//!
//! Entries are ordered by their claimed time, not by causality: a removed member can backdate
//! entries to before their removal, and a redeemer can backdate a redemption to before the
//! invite's expiry (not before its issue). Binding entries to what their author had seen
//! (Automerge change dependencies) would close this.

mod entry;
mod fold;
mod invite;
mod keys;

pub use entry::{
    Action, ENTRY_DOMAIN, EntryError, FieldError, sign_entry, signing_bytes, space_id_for,
    verify_entry,
};
pub use fold::{InviteState, Member, MembershipState, RejectReason, Rejected, Removal};
pub use invite::{
    Invite, MAX_TICKET_LEN, TICKET_PREFIX, TICKET_VERSION, Ticket, TicketError, invite_key_for,
    redeem_action, redeem_proof, verify_redeem_proof,
};
pub use keys::{
    DeviceKey, InviteKey, ParseInviteKeyError, SIGNATURE_LEN, SignatureError, verify_device,
    verify_signature,
};
