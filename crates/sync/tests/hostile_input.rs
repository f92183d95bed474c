//! Random and mutated bytes into every entry point a peer (or a pasted ticket) can reach:
//! frame decoding, the engine talking to a stranger and to a member, invite tickets, and
//! membership entries and logs. The same harness (`fuzz_harness`) drives the cargo-fuzz
//! targets in `fuzz/`; here it runs on stable in every test run, under proptest.

#[path = "fuzz_harness/mod.rs"]
mod fuzz_harness;

use cohort_model::{DocId, Entry, EntryKind, ItemId, PersonId, Role, SpaceId, Timestamp};
use cohort_sync::membership::{Invite, Ticket, TicketError, redeem_action};
use cohort_sync::protocol::{self, Frame, FrameError, PROTOCOL, RefuseReason};
use fuzz_harness as h;
use proptest::prelude::*;

/// Applies `edits` to `bytes`: each overwrites, deletes or inserts one byte at a position.
fn mutate(mut bytes: Vec<u8>, edits: &[(prop::sample::Index, u8, u8)]) -> Vec<u8> {
    for (at, kind, value) in edits {
        if bytes.is_empty() {
            bytes.push(*value);
            continue;
        }
        let i = at.index(bytes.len());
        match kind % 3 {
            0 => bytes[i] = *value,
            1 => {
                bytes.remove(i);
            }
            _ => bytes.insert(i, *value),
        }
    }
    bytes
}

fn edits() -> impl Strategy<Value = Vec<(prop::sample::Index, u8, u8)>> {
    prop::collection::vec(
        (any::<prop::sample::Index>(), any::<u8>(), any::<u8>()),
        1..6,
    )
}

/// Well-formed frames a peer might send, about the harness's space or another.
fn valid_frame() -> impl Strategy<Value = Vec<u8>> {
    let space = prop_oneof![
        Just(h::space()),
        Just(h::other_space()),
        any::<[u8; 16]>().prop_map(SpaceId::from_bytes)
    ];
    let doc = prop_oneof![
        Just(h::doc_ids()[0]),
        Just(h::doc_ids()[2]),
        any::<[u8; 16]>().prop_map(DocId::from_bytes)
    ];
    (
        space,
        doc,
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(space, doc, pick, bytes)| {
            let frame = match pick % 7 {
                0 => Frame::Hello {
                    space,
                    protocol: PROTOCOL,
                },
                1 => Frame::Redeem {
                    space,
                    protocol: PROTOCOL,
                    request: bytes,
                },
                2 => Frame::Welcome { space },
                3 => Frame::Refused {
                    space,
                    reason: RefuseReason::NotAuthorized,
                },
                4 => Frame::Digest {
                    space,
                    root: [pick; 16],
                    count: u32::from(pick),
                },
                5 => Frame::Summary {
                    space,
                    docs: vec![(doc, [pick; 8])],
                },
                _ => Frame::SyncBatch {
                    space,
                    messages: vec![(doc, bytes)],
                },
            };
            protocol::encode_frame(&frame)
        })
}

/// Engine input: flags, then frames (whole, mutated, or cut into chunks) and host events.
fn engine_input() -> impl Strategy<Value = Vec<u8>> {
    let step = prop_oneof![
        4 => (valid_frame(), prop::option::of(edits())).prop_map(|(f, e)| {
            let bytes = match e { Some(e) => mutate(f, &e), None => f };
            // Cut into chunks of at most 200 bytes, each behind its length.
            let mut out = Vec::new();
            for chunk in bytes.chunks(200) {
                out.push(chunk.len() as u8);
                out.extend_from_slice(chunk);
            }
            out
        }),
        1 => (0xf0u8..=0xf5).prop_map(|op| vec![op, 0]),
        1 => prop::collection::vec(any::<u8>(), 0..40),
    ];
    (any::<u8>(), prop::collection::vec(step, 0..12)).prop_map(|(flags, steps)| {
        let mut out = vec![flags];
        out.extend(steps.concat());
        out
    })
}

fn ticket() -> impl Strategy<Value = Ticket> {
    (
        any::<[u8; 16]>(),
        any::<[u8; 32]>(),
        0u8..3,
        prop::option::of(any::<[u8; 16]>()),
        prop::collection::vec(".{0,40}", 0..4),
    )
        .prop_map(|(space, secret, role, member, addrs)| Ticket {
            space: SpaceId::from_bytes(space),
            secret,
            role: [Role::Facilitator, Role::Learner, Role::Observer][usize::from(role)],
            member: member.map(PersonId::from_bytes),
            addrs,
        })
}

/// A validly signed redemption, as a joiner's `Redeem` carries it.
fn redemption(seed: u8) -> Entry {
    let (space, _) = h::created_log();
    let joiner = cohort_sync::membership::DeviceKey::generate([seed; 32]);
    let invite = Invite::new([seed; 32], Role::Learner, Timestamp(1_000_000), 1);
    redeem_action(
        &invite.secret(),
        PersonId::from_bytes([seed; 16]),
        joiner.device_id(),
        Role::Learner,
    )
    .signed(
        &joiner,
        space,
        ItemId::from_bytes([seed; 16]),
        Timestamp(10),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_are_never_a_frame_by_accident_and_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        h::frames(&bytes);
        // Fewer than a header's worth is always "incomplete", never a frame.
        if bytes.len() < protocol::HEADER_BYTES {
            prop_assert!(protocol::decode_frame(&bytes).is_err());
        }
    }

    #[test]
    fn mutated_frames_decode_canonically_or_fail(frames in prop::collection::vec(valid_frame(), 1..4), e in edits()) {
        let bytes = mutate(frames.concat(), &e);
        h::frames(&bytes);
    }

    #[test]
    fn a_stranger_is_told_only_refusals(input in engine_input()) {
        let mut input = input;
        input[0] &= !1; // the peer is the stranger
        let sent = h::engine(&input);
        for frame in &sent.frames {
            prop_assert!(matches!(frame, Frame::Refused { .. }), "{frame:?}");
        }
    }

    #[test]
    fn a_member_cannot_crash_the_engine(input in engine_input()) {
        let mut input = input;
        input[0] |= 1 | 4; // the member, who opened a session with a Hello
        h::engine(&input);
    }

    #[test]
    fn random_engine_input_never_panics(bytes in prop::collection::vec(any::<u8>(), 1..2000)) {
        h::engine(&bytes);
    }

    #[test]
    fn random_ticket_text_is_an_error(text in ".{0,200}") {
        h::ticket_text(text.as_bytes());
        if !text.trim().to_ascii_lowercase().starts_with("cohort1") {
            prop_assert_eq!(Ticket::decode(&text), Err(TicketError::BadPrefix));
        }
    }

    #[test]
    fn mutated_tickets_are_errors_or_read_back(t in ticket(), e in edits()) {
        let text = t.encode();
        prop_assert_eq!(Ticket::decode(&text).ok(), Some(t));
        let mutated = mutate(text.into_bytes(), &e);
        h::ticket_text(&mutated);
    }

    #[test]
    fn arbitrary_ticket_bodies_behind_a_valid_checksum_never_panic(body in prop::collection::vec(any::<u8>(), 0..300)) {
        h::ticket_body(&body);
    }

    #[test]
    fn mutated_ticket_bodies_behind_a_valid_checksum_never_panic(t in ticket(), e in edits()) {
        // The body of a real ticket (its base32 text decoded, checksum dropped), mutated,
        // then given a valid checksum again: the parser behind the checksum sees it.
        let text = t.encode();
        let encoded = text.get(7..).unwrap_or_default().to_ascii_uppercase();
        let bytes = data_encoding::BASE32_NOPAD.decode(encoded.as_bytes())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let body = bytes[..bytes.len() - 4].to_vec();
        h::ticket_body(&body);
        h::ticket_body(&mutate(body, &e));
    }

    #[test]
    fn random_bytes_are_not_an_admission_request(bytes in prop::collection::vec(any::<u8>(), 0..500)) {
        h::entry_json(&bytes);
        h::membership_doc(&bytes);
    }

    #[test]
    fn mutated_admission_requests_never_panic(seed in 1u8..50, e in edits()) {
        let entry = redemption(seed);
        let json = serde_json::to_vec(&entry).map_err(|e| TestCaseError::fail(e.to_string()))?;
        h::entry_json(&json);
        h::entry_json(&mutate(json, &e));
    }

    #[test]
    fn entries_with_arbitrary_fields_never_panic(
        id in any::<[u8; 16]>(),
        kind in 0usize..9,
        author in ".{0,70}",
        at in any::<i64>(),
        fields in prop::collection::btree_map(".{0,12}", ".{0,70}", 0..6),
        signature in prop::collection::vec(any::<u8>(), 0..70),
    ) {
        let kinds = [
            EntryKind::Create,
            EntryKind::AddMember,
            EntryKind::ChangeRole,
            EntryKind::RemoveMember,
            EntryKind::LinkDevice,
            EntryKind::InviteIssued,
            EntryKind::InviteRedeemed,
            EntryKind::InviteIssued,
            EntryKind::Create,
        ];
        h::entry_checks(&Entry {
            id: ItemId::from_bytes(id),
            kind: kinds[kind],
            author_device: author,
            at: Timestamp(at),
            fields,
            signature,
        });
    }

    #[test]
    fn validly_signed_logs_fold_alike_in_any_order(data in prop::collection::vec(any::<u8>(), 0..120)) {
        h::signed_log(&data);
    }

    #[test]
    fn mutated_membership_log_documents_never_panic(seed in 1u8..50, e in edits()) {
        let (space, create) = h::created_log();
        let mut doc = automerge::AutoCommit::new();
        let id = DocId::from_bytes([7; 16]);
        cohort_model::Membership::create(&mut doc, id, space).map_err(|e| TestCaseError::fail(e.to_string()))?;
        cohort_model::Membership::append(&mut doc, &create).map_err(|e| TestCaseError::fail(e.to_string()))?;
        cohort_model::Membership::append(&mut doc, &redemption(seed)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let bytes = doc.save_nocompress();
        h::membership_doc(&bytes);
        h::membership_doc(&mutate(bytes, &e));
    }
}

#[test]
fn the_harness_sees_what_it_checks() {
    // A stranger's Hello for the space gets exactly one refusal; the member's gets a
    // welcome, a digest and (its summary unknown) nothing more until it speaks.
    let hello = protocol::encode_frame(&Frame::Hello {
        space: h::space(),
        protocol: PROTOCOL,
    });
    let mut input = vec![0u8, hello.len() as u8];
    input.extend_from_slice(&hello);
    let sent = h::engine(&input);
    assert_eq!(
        sent.frames,
        vec![Frame::Refused {
            space: h::space(),
            reason: RefuseReason::NotAuthorized
        }]
    );
    input[0] = 1;
    let sent = h::engine(&input);
    assert!(
        matches!(
            sent.frames.as_slice(),
            [Frame::Welcome { .. }, Frame::Digest { .. }]
        ),
        "{:?}",
        sent.frames
    );
    // The member's real sync message (from a fork of the host's document) is merged and
    // answered.
    let sent = h::engine(&[1 | 4 | 8, 0, 0, 0, 0]);
    assert!(
        sent.frames
            .iter()
            .any(|f| matches!(f, Frame::SyncBatch { messages, .. } if messages.iter().any(|(d, _)| *d == h::doc_ids()[0]))),
        "{:?}",
        sent.frames
    );
    // Garbage after a frame boundary is an error, and the frame before it still decodes.
    let mut bytes = hello.clone();
    bytes.extend_from_slice(&[0, 0, 0, 1]);
    assert!(matches!(
        protocol::decode_frame(&bytes[hello.len()..]),
        Err(FrameError::TooShort { len: 1 })
    ));
    h::frames(&bytes);
    h::ticket_body(&[]);
    h::entry_json(b"{}");
}
