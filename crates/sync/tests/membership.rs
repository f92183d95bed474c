//! Stories of a cohort's membership log: who gets in, who gets out, and what forgers get.

use automerge::{AutoCommit, ReadDoc};
use cohort_model::{DocId, Entry, ItemId, Membership, PersonId, Role, SpaceId, Timestamp};
use cohort_sync::DeviceId;
use cohort_sync::membership::{
    Action, DeviceKey, EntryError, Invite, MembershipState, RejectReason, Rejected, SignatureError,
    Ticket, TicketError, redeem_action, space_id_for, verify_entry,
};

fn key(n: u8) -> DeviceKey {
    DeviceKey::generate([n; 32])
}

fn person(n: u8) -> PersonId {
    PersonId::from_bytes([n; 16])
}

/// A space being written: signed entries with fresh ids, created by person 1 on key 1.
struct Log {
    space: SpaceId,
    entries: Vec<Entry>,
    next_id: u32,
}

impl Log {
    fn new() -> Log {
        let space = space_id_for(&key(1).device_id(), [42; 16]);
        let mut log = Log {
            space,
            entries: Vec::new(),
            next_id: 0,
        };
        log.push(
            &key(1),
            0,
            Action::Create {
                creator: person(1),
                nonce: [42; 16],
            },
        );
        log
    }

    fn id(&mut self) -> ItemId {
        self.next_id += 1;
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&self.next_id.to_be_bytes());
        ItemId::from_bytes(bytes)
    }

    fn push(&mut self, by: &DeviceKey, at: i64, action: Action) -> ItemId {
        let id = self.id();
        self.entries
            .push(action.signed(by, self.space, id, Timestamp(at)));
        id
    }

    fn add(&mut self, by: &DeviceKey, at: i64, who: u8, device: &DeviceKey, role: Role) -> ItemId {
        self.push(
            by,
            at,
            Action::AddMember {
                member: person(who),
                device: device.device_id(),
                role,
            },
        )
    }

    fn fold(&self) -> (MembershipState, Vec<Rejected>) {
        MembershipState::fold(self.space, &self.entries)
    }

    /// The reason `id` was rejected, failing the test if it was applied.
    fn rejection(&self, id: ItemId) -> RejectReason {
        let (_, rejected) = self.fold();
        match rejected.into_iter().find(|r| r.entry_id == id) {
            Some(r) => r.reason,
            None => panic!("entry {id} should have been rejected but was applied"),
        }
    }

    fn assert_applied(&self, id: ItemId) {
        let (_, rejected) = self.fold();
        if let Some(r) = rejected.iter().find(|r| r.entry_id == id) {
            panic!(
                "entry {id} should have been applied but was rejected: {}",
                r.reason
            );
        }
    }
}

fn role_of(state: &MembershipState, device: &DeviceKey) -> Option<(PersonId, Role)> {
    state.role_of_device(device.device_id())
}

#[test]
fn the_creator_of_a_space_is_its_facilitator() {
    let log = Log::new();
    let (state, rejected) = log.fold();
    assert!(
        rejected.is_empty(),
        "a lone create must apply: {rejected:?}"
    );
    assert_eq!(state.creator(), Some(person(1)));
    assert_eq!(
        role_of(&state, &key(1)),
        Some((person(1), Role::Facilitator))
    );
    let me = key(1).device_id();
    assert!(state.may_read(me) && state.may_write(me) && state.may_admit(me));
    let stranger = key(99).device_id();
    assert!(
        !state.may_read(stranger),
        "a device outside the log must not read the space"
    );
}

#[test]
fn a_create_by_another_device_cannot_take_over_the_space() {
    let mut log = Log::new();
    // An intruder backdates a create before the real one: its device does not derive the
    // space id, so it must be rejected and must not become a facilitator.
    let intruder = key(66);
    let forged = log.push(
        &intruder,
        -5,
        Action::Create {
            creator: person(66),
            nonce: [42; 16],
        },
    );
    assert_eq!(log.rejection(forged), RejectReason::SpaceMismatch);
    let again = log.push(
        &key(1),
        3,
        Action::Create {
            creator: person(7),
            nonce: [42; 16],
        },
    );
    assert_eq!(log.rejection(again), RejectReason::AlreadyCreated);
    let (state, _) = log.fold();
    assert_eq!(state.creator(), Some(person(1)));
    assert!(!state.may_read(intruder.device_id()));
}

#[test]
fn forged_entries_are_rejected_and_reported() {
    let mut log = Log::new();
    let learner = key(2);
    let add = |log: &mut Log, who: u8| log.add(&key(1), 10, who, &key(who), Role::Learner);

    // A bit flipped in the signature.
    let flipped = add(&mut log, 2);
    if let Some(e) = log.entries.last_mut() {
        e.signature[7] ^= 0x01;
    }
    // A field changed after signing: the role is raised.
    let raised = add(&mut log, 3);
    if let Some(e) = log.entries.last_mut() {
        e.fields.insert("role".into(), "facilitator".into());
    }
    // The author field swapped for another device's id.
    let swapped = add(&mut log, 4);
    if let Some(e) = log.entries.last_mut() {
        e.author_device = key(5).device_id().to_string();
    }
    // Validly signed, but by a key that is no member.
    let outsider = log.add(&key(77), 10, 6, &key(6), Role::Facilitator);
    // No signature at all.
    let unsigned = log.id();
    log.entries
        .push(Action::RemoveMember { member: person(1) }.to_entry(unsigned, Timestamp(11)));

    let mismatch = RejectReason::Signature(EntryError::BadSignature(SignatureError::Mismatch));
    assert_eq!(log.rejection(flipped), mismatch, "flipped signature bit");
    assert_eq!(
        log.rejection(raised),
        mismatch,
        "field changed after signing"
    );
    assert_eq!(log.rejection(swapped), mismatch, "author swapped");
    assert_eq!(log.rejection(outsider), RejectReason::NotMember);
    assert!(
        matches!(
            log.rejection(unsigned),
            RejectReason::Signature(EntryError::BadAuthor(_))
        ),
        "an entry with an empty author must be rejected"
    );
    let (state, rejected) = log.fold();
    assert_eq!(
        rejected.len(),
        5,
        "exactly the five forgeries: {rejected:?}"
    );
    assert_eq!(
        state.members().len(),
        1,
        "no forged entry may add anyone: {:?}",
        state.members()
    );
    assert!(role_of(&state, &learner).is_none());
}

#[test]
fn entries_with_missing_or_malformed_fields_are_rejected_not_panicked_on() {
    let mut log = Log::new();
    let space = log.space;
    let cases: [(&str, Option<&str>); 3] = [
        ("member", None),
        ("role", Some("overlord")),
        ("device", Some("not hex")),
    ];
    let mut ids = Vec::new();
    for (field, value) in cases {
        let id = log.id();
        let mut entry = Action::AddMember {
            member: person(2),
            device: key(2).device_id(),
            role: Role::Learner,
        }
        .to_entry(id, Timestamp(5));
        match value {
            None => entry.fields.remove(field),
            Some(v) => entry.fields.insert(field.into(), v.into()),
        };
        cohort_sync::membership::sign_entry(&key(1), space, &mut entry);
        log.entries.push(entry);
        ids.push((field, id));
    }
    for (field, id) in ids {
        assert!(
            matches!(log.rejection(id), RejectReason::Field(_)),
            "bad {field} must be reported as a field error"
        );
    }
}

#[test]
fn a_removed_members_later_entries_are_void() {
    let mut log = Log::new();
    let (alice, bob) = (key(1), key(2));
    log.add(&alice, 1, 2, &bob, Role::Facilitator);
    let before = log.add(&bob, 5, 3, &key(3), Role::Learner);
    log.push(&alice, 10, Action::RemoveMember { member: person(2) });
    let same_ms = log.add(&bob, 10, 4, &key(4), Role::Learner);
    let after = log.add(&bob, 20, 5, &key(5), Role::Learner);
    let relink = log.push(
        &bob,
        21,
        Action::LinkDevice {
            member: person(2),
            device: key(12).device_id(),
        },
    );

    log.assert_applied(before);
    assert_eq!(
        log.rejection(same_ms),
        RejectReason::NotMember,
        "same ms as removal"
    );
    assert_eq!(log.rejection(after), RejectReason::NotMember);
    assert_eq!(log.rejection(relink), RejectReason::NotMember);
    let (state, _) = log.fold();
    assert!(state.is_removed(person(2)));
    assert!(
        !state.may_read(bob.device_id()),
        "removed devices must lose read access"
    );
    assert!(
        state.members().contains_key(&person(3)),
        "acts before removal stand"
    );
    assert!(!state.members().contains_key(&person(4)));

    // Re-admitting lifts the removal; the old device comes back with the person.
    log.add(&alice, 30, 2, &bob, Role::Observer);
    let (state, _) = log.fold();
    assert!(!state.is_removed(person(2)));
    assert_eq!(role_of(&state, &bob), Some((person(2), Role::Observer)));
}

#[test]
fn concurrent_mutual_removals_both_apply() {
    for (a_at, b_at) in [(10, 12), (12, 10), (10, 10)] {
        let mut log = Log::new();
        let (alice, bob) = (key(1), key(2));
        log.add(&alice, 1, 2, &bob, Role::Facilitator);
        log.add(&alice, 1, 3, &key(3), Role::Learner);
        log.push(&alice, a_at, Action::RemoveMember { member: person(2) });
        log.push(&bob, b_at, Action::RemoveMember { member: person(1) });
        // Bob's removal of a third member, written after his own removal, stays void.
        let third = log.push(
            &bob,
            b_at.max(a_at) + 1,
            Action::RemoveMember { member: person(3) },
        );
        let (state, rejected) = log.fold();
        assert!(
            state.is_removed(person(1)) && state.is_removed(person(2)),
            "alice at {a_at} and bob at {b_at} removed each other: both must be out \
             (rejected: {rejected:?})"
        );
        assert!(
            rejected.iter().any(|r| r.entry_id == third),
            "a removed member may only answer the removal that removed them"
        );
        assert!(state.members().contains_key(&person(3)));
    }
}

#[test]
fn an_observer_or_learner_cannot_admit_anyone() {
    let mut log = Log::new();
    let (observer, learner) = (key(2), key(3));
    log.add(&key(1), 1, 2, &observer, Role::Observer);
    log.add(&key(1), 1, 3, &learner, Role::Learner);
    let by_observer = log.add(&observer, 5, 4, &key(4), Role::Observer);
    let by_learner = log.add(&learner, 5, 5, &key(5), Role::Learner);
    let promote = log.push(
        &observer,
        6,
        Action::ChangeRole {
            member: person(2),
            role: Role::Facilitator,
        },
    );
    let invite = Invite::new([9; 32], Role::Learner, Timestamp(100), 1);
    let learner_invite = log.push(&learner, 7, invite.issue());

    assert_eq!(
        log.rejection(by_observer),
        RejectReason::NoRight {
            role: Role::Observer,
            what: "add members"
        }
    );
    assert_eq!(
        log.rejection(by_learner),
        RejectReason::NoRight {
            role: Role::Learner,
            what: "add members"
        }
    );
    assert!(matches!(
        log.rejection(promote),
        RejectReason::NoRight { .. }
    ));
    assert!(matches!(
        log.rejection(learner_invite),
        RejectReason::NoRight { .. }
    ));

    // But an observer may link their own second device, and then reads (only) from it.
    let second = key(12);
    let link = log.push(
        &observer,
        8,
        Action::LinkDevice {
            member: person(2),
            device: second.device_id(),
        },
    );
    log.assert_applied(link);
    let (state, _) = log.fold();
    assert!(state.may_read(second.device_id()));
    assert!(!state.may_write(second.device_id()), "observers read only");
    assert!(state.may_write(learner.device_id()));
    assert!(!state.may_admit(learner.device_id()));
}

/// A log with one facilitator-issued learner invite (secret `[9; 32]`, expiring at 100,
/// `uses` redemptions).
fn log_with_invite(uses: u32) -> (Log, Invite) {
    let mut log = Log::new();
    let invite = Invite::new([9; 32], Role::Learner, Timestamp(100), uses);
    log.push(&key(1), 5, invite.issue());
    (log, invite)
}

fn redeem(log: &mut Log, secret: [u8; 32], who: u8, at: i64, role: Role) -> ItemId {
    let device = key(who);
    let action = redeem_action(&secret, person(who), device.device_id(), role);
    log.push(&device, at, action)
}

#[test]
fn a_valid_redemption_admits_the_joiner_with_the_invites_role() {
    let (mut log, invite) = log_with_invite(1);
    let id = redeem(&mut log, invite.secret(), 20, 50, Role::Learner);
    log.assert_applied(id);
    let (state, _) = log.fold();
    assert_eq!(role_of(&state, &key(20)), Some((person(20), Role::Learner)));
    let open = state
        .invites()
        .get(&invite.key())
        .map(|i| (i.redeemed, i.is_open(Timestamp(60))));
    assert_eq!(open, Some((1, false)), "the single use must be spent");
}

#[test]
fn a_redemption_with_a_wrong_secret_is_rejected() {
    let (mut log, invite) = log_with_invite(1);
    let device = key(20);
    let mut action = redeem_action(&[8; 32], person(20), device.device_id(), Role::Learner);
    if let Action::InviteRedeemed { invite_key, .. } = &mut action {
        *invite_key = invite.key(); // names the real invite, but proves another secret
    }
    let id = log.push(&device, 50, action);
    assert_eq!(
        log.rejection(id),
        RejectReason::BadProof(SignatureError::Mismatch)
    );
    // Someone who saw only the log cannot reuse a proof for another device either.
    let (mut log, invite) = log_with_invite(2);
    let good = redeem(&mut log, invite.secret(), 20, 50, Role::Learner);
    let proof = log
        .entries
        .last()
        .and_then(|e| e.fields.get("proof").cloned());
    let thief = key(21);
    let stolen = log.push(
        &thief,
        51,
        Action::InviteRedeemed {
            invite_key: invite.key(),
            member: person(21),
            device: thief.device_id(),
            role: Role::Learner,
            proof: hex::decode(proof.unwrap_or_default()).unwrap_or_default(),
        },
    );
    log.assert_applied(good);
    assert_eq!(
        log.rejection(stolen),
        RejectReason::BadProof(SignatureError::Mismatch)
    );
}

#[test]
fn a_redemption_after_expiry_or_beyond_its_uses_is_rejected() {
    let (mut log, invite) = log_with_invite(2);
    let late = redeem(&mut log, invite.secret(), 20, 100, Role::Learner);
    assert_eq!(
        log.rejection(late),
        RejectReason::InviteExpired {
            expires_at: Timestamp(100)
        }
    );
    let first = redeem(&mut log, invite.secret(), 21, 30, Role::Learner);
    let second = redeem(&mut log, invite.secret(), 22, 31, Role::Learner);
    let third = redeem(&mut log, invite.secret(), 23, 32, Role::Learner);
    log.assert_applied(first);
    log.assert_applied(second);
    assert_eq!(log.rejection(third), RejectReason::InviteUsedUp(2));
}

#[test]
fn a_redemption_must_match_the_invite_and_its_issuer_must_still_hold_the_right() {
    let (mut log, invite) = log_with_invite(5);
    let claims_more = redeem(&mut log, invite.secret(), 20, 30, Role::Facilitator);
    assert!(matches!(
        log.rejection(claims_more),
        RejectReason::InviteMismatch(_)
    ));
    // Signed by a device other than the one it admits.
    let id = log.id();
    let entry = redeem_action(
        &invite.secret(),
        person(21),
        key(21).device_id(),
        Role::Learner,
    )
    .signed(&key(22), log.space, id, Timestamp(31));
    log.entries.push(entry);
    assert_eq!(log.rejection(id), RejectReason::NotRedeemingDevice);
    // An existing member's identity cannot be taken over by an invite.
    let hijack = {
        let device = key(23);
        let action = redeem_action(
            &invite.secret(),
            person(1),
            device.device_id(),
            Role::Learner,
        );
        log.push(&device, 32, action)
    };
    assert_eq!(
        log.rejection(hijack),
        RejectReason::AlreadyMember(person(1))
    );

    // An invite issued by a facilitator who is later removed is revoked.
    let mut log = Log::new();
    log.add(&key(1), 1, 2, &key(2), Role::Facilitator);
    let invite = Invite::new([9; 32], Role::Observer, Timestamp(100), 1);
    log.push(&key(2), 5, invite.issue());
    log.push(&key(1), 10, Action::RemoveMember { member: person(2) });
    let id = redeem(&mut log, invite.secret(), 20, 20, Role::Observer);
    assert_eq!(log.rejection(id), RejectReason::IssuerRevoked);
}

#[test]
fn a_member_links_a_new_device_with_a_device_link_invite() {
    let mut log = Log::new();
    log.add(&key(1), 1, 2, &key(2), Role::Learner);
    let invite = Invite::new([5; 32], Role::Learner, Timestamp(100), 1).linking(person(2));
    let issued = log.push(&key(2), 5, invite.issue());
    let phone = key(30);
    let action = redeem_action(
        &invite.secret(),
        person(2),
        phone.device_id(),
        Role::Learner,
    );
    let linked = log.push(&phone, 6, action);
    log.assert_applied(issued);
    log.assert_applied(linked);
    let (state, _) = log.fold();
    assert_eq!(role_of(&state, &phone), Some((person(2), Role::Learner)));
    // A learner cannot issue a device-link invite for somebody else.
    let other = Invite::new([6; 32], Role::Facilitator, Timestamp(100), 1).linking(person(1));
    let id = log.push(&key(2), 7, other.issue());
    assert_eq!(log.rejection(id), RejectReason::NotOwnDevice);
}

/// Story: Ben links his phone, then unlinks it. From the unlink on the phone reads nothing
/// and its own entries are void; nobody else can claim it, but Ben can link it again.
#[test]
fn an_unlinked_device_loses_access_and_stays_its_persons() {
    let mut log = Log::new();
    log.add(&key(1), 1, 2, &key(2), Role::Learner);
    let phone = key(30);
    let linked = log.push(
        &key(2),
        2,
        Action::LinkDevice {
            member: person(2),
            device: phone.device_id(),
        },
    );
    log.assert_applied(linked);
    let unlinked = log.push(
        &key(2),
        10,
        Action::UnlinkDevice {
            member: person(2),
            device: phone.device_id(),
        },
    );
    log.assert_applied(unlinked);
    let (state, _) = log.fold();
    assert_eq!(
        role_of(&state, &phone),
        None,
        "an unlinked device reads nothing"
    );
    assert!(!state.may_read(phone.device_id()));
    assert_eq!(
        state.owner_of(phone.device_id()),
        Some(person(2)),
        "the device stays bound to Ben"
    );
    assert_eq!(
        role_of(&state, &key(2)),
        Some((person(2), Role::Learner)),
        "Ben's other device is untouched"
    );

    // The phone's own act at the very millisecond of the unlink is void (unlinks sort first).
    let late = log.push(
        &phone,
        10,
        Action::LinkDevice {
            member: person(2),
            device: key(31).device_id(),
        },
    );
    assert_eq!(log.rejection(late), RejectReason::NotMember);
    // Unlinking it twice, or somebody else's device, is rejected.
    let twice = log.push(
        &key(2),
        11,
        Action::UnlinkDevice {
            member: person(2),
            device: phone.device_id(),
        },
    );
    assert_eq!(
        log.rejection(twice),
        RejectReason::NotLinked(phone.device_id())
    );
    let not_hers = log.push(
        &key(1),
        12,
        Action::UnlinkDevice {
            member: person(2),
            device: key(2).device_id(),
        },
    );
    assert_eq!(log.rejection(not_hers), RejectReason::NotOwnDevice);
    // Nobody else can take the phone; Ben can link it again.
    let taken = log.push(
        &key(1),
        13,
        Action::LinkDevice {
            member: person(1),
            device: phone.device_id(),
        },
    );
    assert_eq!(
        log.rejection(taken),
        RejectReason::DeviceTaken(phone.device_id())
    );
    let again = log.push(
        &key(2),
        14,
        Action::LinkDevice {
            member: person(2),
            device: phone.device_id(),
        },
    );
    log.assert_applied(again);
    let (state, _) = log.fold();
    assert_eq!(role_of(&state, &phone), Some((person(2), Role::Learner)));
}

#[test]
fn signed_entries_survive_the_automerge_document() {
    let mut log = Log::new();
    log.add(&key(1), 1, 2, &key(2), Role::Learner);
    let invite = Invite::new([9; 32], Role::Observer, Timestamp(100), 1);
    log.push(&key(1), 2, invite.issue());
    redeem(&mut log, invite.secret(), 20, 3, Role::Observer);
    log.push(&key(1), 4, Action::RemoveMember { member: person(2) });

    let mut doc = AutoCommit::new();
    Membership::create(&mut doc, DocId::from_bytes([3; 16]), log.space)
        .unwrap_or_else(|e| panic!("create log: {e}"));
    for entry in &log.entries {
        Membership::append(&mut doc, entry).unwrap_or_else(|e| panic!("append: {e}"));
    }
    let bytes = doc.save();
    let loaded = AutoCommit::load(&bytes).unwrap_or_else(|e| panic!("load: {e}"));
    assert!(loaded.length(automerge::ROOT) > 0);
    let read = Membership::read(&loaded).unwrap_or_else(|e| panic!("read: {e}"));
    assert_eq!(
        read.entries, log.entries,
        "entries must come back unchanged"
    );
    for entry in &read.entries {
        let device: Result<DeviceId, _> = verify_entry(log.space, entry);
        assert!(
            device.is_ok(),
            "entry {} must still verify: {device:?}",
            entry.id
        );
    }
    let (state, rejected) = MembershipState::fold(log.space, &read.entries);
    assert!(
        rejected.is_empty(),
        "nothing in the story is invalid: {rejected:?}"
    );
    assert_eq!((state, rejected), log.fold());
    assert_eq!(read.header.space, log.space);
}

#[test]
fn a_ticket_round_trips_and_corruption_gives_the_right_error() {
    let ticket = Ticket {
        space: SpaceId::from_bytes([7; 16]),
        secret: [9; 32],
        role: Role::Learner,
        member: Some(PersonId::from_bytes([3; 16])),
        addrs: vec!["/ip4/192.168.1.20/udp/4001/quic-v1".into()],
    };
    let text = ticket.encode();
    assert!(text.starts_with("cohort1"), "{text}");
    assert!(
        text.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "a ticket must be URL-safe lowercase text: {text}"
    );
    assert_eq!(Ticket::decode(&text), Ok(ticket.clone()));
    assert_eq!(
        Ticket::decode(&format!("  {}\n", text.to_uppercase())),
        Ok(ticket.clone()),
        "case and surrounding whitespace are forgiven"
    );

    assert_eq!(Ticket::decode("hello"), Err(TicketError::BadPrefix));
    assert_eq!(
        Ticket::decode(&text.replacen("cohort1", "cohort2", 1)),
        Err(TicketError::BadPrefix)
    );
    // One character changed (a typo) in the middle.
    let mut typo: Vec<char> = text.chars().collect();
    let mid = typo.len() / 2;
    typo[mid] = if typo[mid] == 'a' { 'b' } else { 'a' };
    let typo: String = typo.into_iter().collect();
    assert_eq!(Ticket::decode(&typo), Err(TicketError::BadChecksum));
    // A character that no ticket uses.
    let mut bad = text.clone();
    bad.replace_range(10..11, "1");
    assert_eq!(
        Ticket::decode(&bad),
        Err(TicketError::BadEncoding { position: 10 })
    );
    // Cut off while copying.
    assert_eq!(Ticket::decode(&text[..20]), Err(TicketError::TooShort(8)));
    let cut = &text[..text.len() - 8];
    assert!(
        matches!(
            Ticket::decode(cut),
            Err(TicketError::BadChecksum | TicketError::BadEncoding { .. })
        ),
        "a truncated ticket must not decode: {:?}",
        Ticket::decode(cut)
    );
    assert!(matches!(
        Ticket::decode(&"a".repeat(5000)),
        Err(TicketError::TooLong(5000))
    ));
}

#[test]
fn a_ticket_from_a_newer_version_says_so() {
    // Re-encode the body of a valid ticket with version 2 and a correct checksum.
    let text = Ticket {
        space: SpaceId::from_bytes([7; 16]),
        secret: [9; 32],
        role: Role::Observer,
        member: None,
        addrs: vec![],
    }
    .encode();
    let mut body = data_encoding::BASE32_NOPAD_NOCASE
        .decode(&text.as_bytes()["cohort1".len()..])
        .unwrap_or_else(|e| panic!("own ticket must decode: {e}"));
    body.truncate(body.len() - 4);
    body[0] = 2;
    let sum = blake3::derive_key("cohort ticket checksum v1", &body);
    body.extend_from_slice(&sum[..4]);
    let newer = format!(
        "cohort1{}",
        data_encoding::BASE32_NOPAD_NOCASE
            .encode(&body)
            .to_lowercase()
    );
    assert_eq!(
        Ticket::decode(&newer),
        Err(TicketError::UnsupportedVersion(2))
    );
}
