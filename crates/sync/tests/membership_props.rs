//! Properties: the fold does not depend on the order entries arrive in, and tickets round-trip.

use cohort_model::{Entry, ItemId, PersonId, Role, SpaceId, Timestamp};
use cohort_sync::membership::{
    Action, DeviceKey, Invite, MembershipState, Ticket, redeem_action, space_id_for,
};
use proptest::prelude::*;

const PEOPLE: u8 = 6;

/// Keys are cached: deriving a public key is slow in debug builds.
fn key(n: u8) -> DeviceKey {
    static KEYS: std::sync::OnceLock<Vec<DeviceKey>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        (0..=u8::MAX)
            .map(|n| DeviceKey::generate([n; 32]))
            .collect()
    })[usize::from(n)]
    .clone()
}

/// Person `p`'s first device is key `p + 1`; extra devices are keys 100.. and joiners' 200..
fn device_of(p: u8) -> DeviceKey {
    key(p + 1)
}

fn person(p: u8) -> PersonId {
    PersonId::from_bytes([p; 16])
}

fn role(r: u8) -> Role {
    [Role::Facilitator, Role::Learner, Role::Observer][usize::from(r % 3)]
}

/// One generated act, by one of the people (mostly the creator, so that logs grow).
#[derive(Debug, Clone)]
enum Op {
    Add {
        by: u8,
        member: u8,
        role: u8,
    },
    ChangeRole {
        by: u8,
        member: u8,
        role: u8,
    },
    Remove {
        by: u8,
        member: u8,
    },
    Link {
        by: u8,
        device: u8,
    },
    /// Unlinks one of `by`'s extra devices, or (`device` 4) the device signing.
    Unlink {
        by: u8,
        device: u8,
    },
    Issue {
        by: u8,
        invite: u8,
        role: u8,
        expires: i64,
        uses: u32,
    },
    Redeem {
        invite: u8,
        right_secret: bool,
        joiner: u8,
        role: u8,
    },
    /// Re-appends an earlier entry with a flipped signature bit.
    Forge {
        index: usize,
    },
}

fn by() -> impl Strategy<Value = u8> {
    prop_oneof![Just(0u8), 0..PEOPLE]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (by(), 1..PEOPLE, 0u8..3).prop_map(|(by, member, role)| Op::Add { by, member, role }),
        2 => (by(), 0..PEOPLE, 0u8..3)
            .prop_map(|(by, member, role)| Op::ChangeRole { by, member, role }),
        2 => (by(), 0..PEOPLE).prop_map(|(by, member)| Op::Remove { by, member }),
        1 => (0..PEOPLE, 0u8..4).prop_map(|(by, device)| Op::Link { by, device }),
        1 => (0..PEOPLE, 0u8..5).prop_map(|(by, device)| Op::Unlink { by, device }),
        2 => (by(), 0u8..3, 0u8..3, 0i64..40, 0u32..3).prop_map(
            |(by, invite, role, expires, uses)| Op::Issue { by, invite, role, expires, uses }
        ),
        3 => (0u8..3, prop::bool::weighted(0.8), 0u8..8, 0u8..3).prop_map(
            |(invite, right_secret, joiner, role)| Op::Redeem { invite, right_secret, joiner, role }
        ),
        1 => any::<usize>().prop_map(|index| Op::Forge { index }),
    ]
}

/// Builds the signed log of a generated story: a create by person 0, then each op at its time
/// (times collide often, to exercise tie-breaking).
fn build(ops: &[(Op, i64)]) -> (SpaceId, Vec<Entry>) {
    let space = space_id_for(&device_of(0).device_id(), [1; 16]);
    let mut entries = Vec::new();
    let mut n: u32 = 0;
    let mut id = || {
        n += 1;
        let mut bytes = [0u8; 16];
        bytes[12..].copy_from_slice(&n.to_be_bytes());
        ItemId::from_bytes(bytes)
    };
    let create = Action::Create {
        creator: person(0),
        nonce: [1; 16],
    };
    entries.push(create.signed(&device_of(0), space, id(), Timestamp(0)));
    for (op, at) in ops {
        let at = Timestamp(*at);
        let entry = match *op {
            Op::Add {
                by,
                member,
                role: r,
            } => Action::AddMember {
                member: person(member),
                device: device_of(member).device_id(),
                role: role(r),
            }
            .signed(&device_of(by), space, id(), at),
            Op::ChangeRole {
                by,
                member,
                role: r,
            } => Action::ChangeRole {
                member: person(member),
                role: role(r),
            }
            .signed(&device_of(by), space, id(), at),
            Op::Remove { by, member } => Action::RemoveMember {
                member: person(member),
            }
            .signed(&device_of(by), space, id(), at),
            Op::Link { by, device } => Action::LinkDevice {
                member: person(by),
                device: key(100 + device).device_id(),
            }
            .signed(&device_of(by), space, id(), at),
            Op::Unlink { by, device } => Action::UnlinkDevice {
                member: person(by),
                device: if device == 4 {
                    device_of(by).device_id()
                } else {
                    key(100 + device).device_id()
                },
            }
            .signed(&device_of(by), space, id(), at),
            Op::Issue {
                by,
                invite,
                role: r,
                expires,
                uses,
            } => Invite::new([invite + 1; 32], role(r), Timestamp(expires), uses)
                .issue()
                .signed(&device_of(by), space, id(), at),
            Op::Redeem {
                invite,
                right_secret,
                joiner,
                role: r,
            } => {
                let secret = [if right_secret { invite + 1 } else { 99 }; 32];
                let device = key(200 + joiner);
                redeem_action(&secret, person(50 + joiner), device.device_id(), role(r)).signed(
                    &device,
                    space,
                    id(),
                    at,
                )
            }
            Op::Forge { index } => {
                let mut copy = entries[index % entries.len()].clone();
                copy.id = id();
                if let Some(b) = copy.signature.first_mut() {
                    *b ^= 1;
                }
                copy
            }
        };
        entries.push(entry);
    }
    (space, entries)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_fold_does_not_depend_on_the_order_entries_arrive_in(
        ops in prop::collection::vec((op(), 1i64..30), 0..40),
        shuffle in prop::collection::vec(any::<u64>(), 41),
    ) {
        let (space, entries) = build(&ops);
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by_key(|&i| (shuffle[i], i));
        let shuffled: Vec<Entry> = order.iter().map(|&i| entries[i].clone()).collect();
        let reversed: Vec<Entry> = entries.iter().rev().cloned().collect();

        let written = MembershipState::fold(space, &entries);
        prop_assert_eq!(
            &written, &MembershipState::fold(space, &shuffled),
            "a shuffled log must fold to the same state and rejections"
        );
        prop_assert_eq!(
            &written, &MembershipState::fold(space, &reversed),
            "a reversed log must fold to the same state and rejections"
        );
        let (state, rejected) = written;
        prop_assert_eq!(state.creator(), Some(person(0)), "the creator's create always applies");
        prop_assert!(rejected.len() <= entries.len());
        // Every member's devices map back to that member.
        for (p, m) in state.members() {
            for d in &m.devices {
                prop_assert_eq!(state.role_of_device(*d), Some((*p, m.role)));
            }
        }
    }

    #[test]
    fn a_ticket_round_trips_through_its_text(
        space in any::<[u8; 16]>(),
        secret in any::<[u8; 32]>(),
        addrs in prop::collection::vec(".{0,40}", 0..4),
        role in prop_oneof![Just(Role::Facilitator), Just(Role::Learner), Just(Role::Observer)],
        member in prop::option::of(any::<[u8; 16]>()),
    ) {
        let ticket = Ticket {
            space: SpaceId::from_bytes(space),
            secret,
            role,
            member: member.map(PersonId::from_bytes),
            addrs,
        };
        let text = ticket.encode();
        prop_assert!(text.starts_with("cohort1"));
        prop_assert!(text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        prop_assert_eq!(Ticket::decode(&text), Ok(ticket));
    }

    #[test]
    fn ticket_decoding_never_panics_on_arbitrary_text(text in "(cohort1)?[a-z2-7]{0,120}|.{0,60}") {
        let _ = Ticket::decode(&text);
    }
}
