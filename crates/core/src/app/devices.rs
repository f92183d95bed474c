//! Linked devices: one person, several devices, one personal space.
//!
//! The personal space has a membership log like a cohort's, created with the profile on
//! first run (its id is derived from the first device's key, so only that device can sign
//! its `create` entry). The person is its only member; each device of theirs is a device
//! of that member.
//!
//! 1. `device link` ([`Core::create_device_link`]) appends a one-use *device-link* invite
//!    (an invite that names the person) to the personal log and returns its ticket.
//! 2. On the new device, `device add` ([`Core::add_device`]) checks that its data dir holds
//!    nothing of its own yet, signs the redemption with its key and keeps it as the pending
//!    link. Its node dials the addresses in the ticket and presents the redemption, in a
//!    `Redeem` frame, only to the device that made the ticket (the `/p2p/` part of the
//!    ticket's addresses says which).
//! 3. That device checks it like any admission (`Core::admit`) and appends it: the new
//!    device is now a device of the person, and the personal space (profile, journal, ...)
//!    syncs to it.
//! 4. Once the new device holds the log and the profile, it becomes that person's device
//!    ([`Core::try_finish_link`]): its identity is the person's, its own fresh profile and
//!    personal space are forgotten, and it adds itself to the profile.
//! 5. Every device of the person keeps their cohorts in step with the personal log
//!    ([`Core::reconcile_devices`]): in each cohort where it is a device of the person, it
//!    appends `link_device` for the person's devices the cohort does not list yet and
//!    `unlink_device` for devices unlinked from the personal space, lists the cohort in the
//!    profile (so a new device knows which cohorts to fetch) and adds itself to its member
//!    card there. Cohort peers fold those entries like any, so they accept the new device
//!    (and drop an unlinked one) without anyone else doing anything.
//!
//! `device remove` ([`Core::remove_device`]) appends `unlink_device` to the personal log
//! and to the cohorts: the removed device is disconnected and receives nothing new.

use std::collections::{BTreeMap, BTreeSet};

use cohort_model::{DocKind, Entry, PersonId, Profile, SpaceId, Timestamp};
use cohort_net::{Multiaddr, Protocol};
use cohort_store::ListFilter;
use cohort_sync::DeviceId;
use cohort_sync::membership::{Action, Invite, Ticket, redeem_action};
use cohort_sync::protocol::RefuseReason;
use serde::{Deserialize, Serialize};

use super::{Core, Fts, Identity};
use crate::error::{CoreError, Result};
use crate::sync_views::{DeviceAddView, DeviceLinkView, DeviceView, LinkingView};
use crate::views::{ChangeEvent, ChangeKind};

/// The store key holding the pending link of this device (`device add`).
const LINK_KEY: &str = "sync.link";
/// The store key holding this device's name.
const DEVICE_NAME_KEY: &str = "device.name";
/// Longest a device-link ticket may stay open, in minutes (a week).
pub const MAX_LINK_MINUTES: u32 = 7 * 24 * 60;
const MINUTE_MS: i64 = 60 * 1000;

/// The personal space a device is being linked into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LinkTarget {
    /// The personal space.
    pub space: SpaceId,
    /// Its person.
    pub person: PersonId,
    /// The device that made the ticket, if the ticket's addresses name it.
    pub issuer: Option<DeviceId>,
}

/// A link waiting for one of the person's devices to admit this one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct PendingLink {
    /// The personal space.
    pub space: SpaceId,
    /// Its person.
    pub person: PersonId,
    /// The device that made the ticket (hex), if known.
    pub issuer: Option<String>,
    /// The signed redemption this device presents.
    pub entry: Entry,
    /// Where the linking device said it can be reached.
    pub addrs: Vec<String>,
    /// The last refusal, if any, and whether it is final.
    pub refused: Option<(String, bool)>,
}

impl PendingLink {
    fn target(&self) -> LinkTarget {
        LinkTarget {
            space: self.space,
            person: self.person,
            issuer: self.issuer.as_deref().and_then(|d| d.parse().ok()),
        }
    }
}

/// The device named by the `/p2p/` part of a ticket's addresses.
fn issuer_of(addrs: &[String]) -> Option<DeviceId> {
    addrs.iter().find_map(|a| {
        let addr: Multiaddr = a.parse().ok()?;
        addr.iter().find_map(|p| match p {
            Protocol::P2p(peer) => crate::node::device_of(&peer),
            _ => None,
        })
    })
}

/// The machine's name, to name this device in the profile.
fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().chars().take(60).collect::<String>())
        .filter(|name| !name.is_empty())
}

fn encode<T: Serialize>(what: &str, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| CoreError::InvalidInput(format!("cannot encode {what}: {e}")))
}

impl Core {
    /// This device's name: given at `device add`, else the machine's name.
    pub(super) fn device_name(&self) -> String {
        self.store
            .kv_get(DEVICE_NAME_KEY)
            .ok()
            .flatten()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|n| !n.trim().is_empty())
            .or_else(host_name)
            .unwrap_or_else(|| "a device".into())
    }

    /// The personal space's fold, or why this data dir cannot link devices.
    fn personal_state(&self) -> Result<&cohort_sync::membership::MembershipState> {
        self.sync.memberships.get(&self.me.personal_space).ok_or_else(|| {
            CoreError::InvalidInput(
                "this data dir was made by an earlier version of Cohort: its personal space has no membership log, so it cannot be shared with another device".into(),
            )
        })
    }

    /// Creates a one-use ticket that links a new device to this person, open for
    /// `minutes` minutes; it holds `addrs` (where this device can be reached). The new
    /// device runs `cohort device add <ticket>`.
    pub fn create_device_link(
        &mut self,
        minutes: u32,
        addrs: Vec<String>,
    ) -> Result<DeviceLinkView> {
        if minutes == 0 || minutes > MAX_LINK_MINUTES {
            return Err(CoreError::InvalidInput(format!(
                "a device-link ticket stays open between 1 minute and {} days",
                MAX_LINK_MINUTES / (24 * 60)
            )));
        }
        let space = self.me.personal_space;
        let person = self.me.person;
        let role = match self.personal_state()?.role_of_device(self.device()) {
            Some((p, role)) if p == person => role,
            _ => {
                return Err(CoreError::InvalidInput(
                    "this device was unlinked from its person: it cannot link others".into(),
                ));
            }
        };
        let mut secret = [0u8; 32];
        secret[..16].copy_from_slice(&self.ids.next_id());
        secret[16..].copy_from_slice(&self.ids.next_id());
        let expires_at = Timestamp(self.clock.now().millis() + i64::from(minutes) * MINUTE_MS);
        let invite = Invite::new(secret, role, expires_at, 1).linking(person);
        self.append_entry(space, invite.issue(), "issue device link")?;
        Ok(DeviceLinkView {
            ticket: invite.ticket(space, addrs.clone()).encode(),
            space,
            person,
            expires_at,
            addrs,
        })
    }

    /// Redeems a device-link ticket on a new device: signs this device's redemption and
    /// keeps it until one of the person's devices links it (the node presents it to the
    /// device that made the ticket). `name` names this device in the person's profile.
    /// Refused unless this data dir holds nothing of its own yet (a new data dir).
    pub fn add_device(&mut self, ticket: &str, name: Option<&str>) -> Result<DeviceAddView> {
        let ticket = Ticket::decode(ticket).map_err(|e| CoreError::InvalidInput(e.to_string()))?;
        let Some(person) = ticket.member else {
            return Err(CoreError::InvalidInput(
                "this ticket invites to a cohort; use it with `cohort join`".into(),
            ));
        };
        if ticket.space == self.me.personal_space || person == self.me.person {
            return Err(CoreError::InvalidInput(
                "this ticket was made by this very profile: run `cohort device add` on the new device, with its own data dir".into(),
            ));
        }
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        if let Some(name) = name
            && name.chars().count() > 60
        {
            return Err(CoreError::InvalidInput(
                "a device name has at most 60 characters".into(),
            ));
        }
        self.require_fresh()?;
        let space = ticket.space;
        let action = redeem_action(&ticket.secret, person, self.device(), ticket.role);
        let id = self.new_item();
        let entry = action.signed(&self.key, space, id, self.clock.now());
        let link = PendingLink {
            space,
            person,
            issuer: issuer_of(&ticket.addrs).map(|d| d.to_string()),
            entry,
            addrs: ticket.addrs.clone(),
            refused: None,
        };
        if let Some(name) = name {
            self.store.kv_set(DEVICE_NAME_KEY, name.as_bytes())?;
        }
        self.store
            .kv_set(LINK_KEY, &encode("the pending link", &Some(&link))?)?;
        self.start_link(&link)?;
        Ok(DeviceAddView {
            space,
            person,
            addrs: ticket.addrs,
        })
    }

    /// Refuses `device add` on a data dir that holds anything of its own: cohorts, joins,
    /// journal entries or notes, linked devices.
    fn require_fresh(&self) -> Result<()> {
        let personal = self.me.personal_space;
        let linking = self.sync.linking.as_ref().map(|l| l.space);
        let spaces: BTreeSet<SpaceId> = self
            .sync
            .memberships
            .keys()
            .chain(self.sync.joining.iter())
            .copied()
            .chain(self.pending_joins()?.into_keys())
            .filter(|s| *s != personal && Some(*s) != linking)
            .collect();
        let cohorts = spaces.len();
        let own = self
            .store
            .list(&ListFilter {
                spaces: Some(vec![personal]),
                include_deleted: true,
                ..ListFilter::default()
            })?
            .into_iter()
            .filter(|m| !matches!(m.kind, DocKind::Profile | DocKind::Membership))
            .count();
        let devices = self
            .sync
            .memberships
            .get(&personal)
            .and_then(|s| s.members().get(&self.me.person))
            .map_or(1, |m| m.devices.len());
        if cohorts > 0 || own > 0 || devices > 1 {
            return Err(CoreError::InvalidInput(format!(
                "this data dir already holds its own data ({cohorts} cohort(s), {own} private document(s), {devices} device(s)); add the new device with a new data dir (--data-dir)"
            )));
        }
        Ok(())
    }

    /// Puts a pending link into the sync state: the redemption is presented, and the
    /// linking device is trusted with the personal space until its log arrives.
    fn start_link(&mut self, link: &PendingLink) -> Result<()> {
        let request = encode("the redemption", &link.entry)?;
        self.sync.requests.insert(link.space, request);
        self.sync.linking = Some(link.target());
        self.expect_space(link.space);
        self.sync.membership_changed = true;
        Ok(())
    }

    /// The pending link, if this device is being linked.
    pub(super) fn pending_link(&self) -> Result<Option<PendingLink>> {
        match self.store.kv_get(LINK_KEY)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                CoreError::InvalidInput(format!(
                    "the data dir's pending device link is damaged: {e}"
                ))
            }),
        }
    }

    /// Loads the pending link into the sync state (on open).
    pub(super) fn load_link(&mut self) -> Result<()> {
        if let Some(link) = self.pending_link()? {
            if link.person == self.me.person {
                // Linked already (the record outlived the switch): forget it.
                self.store.kv_set(LINK_KEY, b"null")?;
                return Ok(());
            }
            self.start_link(&link)?;
        }
        Ok(())
    }

    /// Where a `device add` stands, while it is pending.
    pub fn linking(&self) -> Result<Option<LinkingView>> {
        Ok(self.pending_link()?.map(|link| {
            let (refused, hopeless) = match link.refused {
                Some((why, hopeless)) => (Some(why), hopeless),
                None => (None, false),
            };
            LinkingView {
                space: link.space,
                person: link.person,
                refused,
                hopeless,
            }
        }))
    }

    /// Records a refusal of the pending link.
    pub(super) fn note_link_refusal(&mut self, reason: RefuseReason) -> Result<()> {
        let Some(mut link) = self.pending_link()? else {
            return Ok(());
        };
        let hopeless = matches!(
            reason,
            RefuseReason::InviteExpired | RefuseReason::InviteUsedUp | RefuseReason::InviteInvalid
        );
        let why = match reason {
            RefuseReason::InviteExpired => {
                "the device-link ticket has expired; run `cohort device link` again on your other device".into()
            }
            RefuseReason::InviteUsedUp => {
                "the device-link ticket was already used; run `cohort device link` again on your other device".into()
            }
            RefuseReason::InviteInvalid => {
                "the device-link ticket is not valid (altered, or made for another device); run `cohort device link` again".into()
            }
            other => super::invites::refusal_message(other),
        };
        link.refused = Some((why, hopeless));
        self.store
            .kv_set(LINK_KEY, &encode("the pending link", &Some(&link))?)?;
        Ok(())
    }

    /// Finishes a pending link once the person's log lists this device and their profile
    /// is here: this device takes the person's identity and forgets its own fresh profile
    /// and personal space, adds itself to the profile, and expects the person's cohorts.
    pub(super) fn try_finish_link(&mut self) -> Result<()> {
        let Some(link) = self.sync.linking.clone() else {
            return Ok(());
        };
        let linked = self
            .sync
            .memberships
            .get(&link.space)
            .and_then(|s| s.role_of_device(self.device()))
            .is_some_and(|(person, _)| person == link.person);
        if !linked {
            return Ok(());
        }
        let mut profile = None;
        for meta in self.store.list(&ListFilter {
            kinds: Some(vec![DocKind::Profile]),
            spaces: Some(vec![link.space]),
            ..ListFilter::default()
        })? {
            if let Ok(p) = Profile::read(self.doc(meta.id)?)
                && p.person == link.person
            {
                profile = Some((meta.id, p));
                break;
            }
        }
        let Some((profile_id, read)) = profile else {
            // The log came first; the profile follows.
            return Ok(());
        };
        let old = self.me.clone();
        let me = Identity {
            person: link.person,
            personal_space: link.space,
            profile: profile_id,
        };
        // The identity first: a crash after it leaves only unused documents behind.
        self.store.kv_set("me", &encode("the identity", &me)?)?;
        self.store.kv_set(LINK_KEY, b"null")?;
        self.me = me;
        self.sync.linking = None;
        self.sync.requests.remove(&link.space);
        self.sync.joining.remove(&link.space);
        // This device's fresh profile and personal space were never shared: forget them.
        let leftovers: Vec<_> = self
            .store
            .list(&ListFilter {
                spaces: Some(vec![old.personal_space]),
                include_deleted: true,
                ..ListFilter::default()
            })?
            .into_iter()
            .map(|m| m.id)
            .collect();
        for id in &leftovers {
            self.cache.pop(id);
        }
        self.store.remove_docs(&leftovers)?;
        self.sync.memberships.remove(&old.personal_space);
        for id in leftovers {
            let _ = self.events.send(ChangeEvent {
                doc: id,
                space: old.personal_space,
                kind: DocKind::Profile,
                change: ChangeKind::Deleted,
            });
        }
        let actor = self.actor.to_hex_string();
        let name = self.device_name();
        if !read.devices.iter().any(|d| d.actor == actor) {
            self.edit(profile_id, "add device", Fts::Keep, |doc, now| {
                Profile::add_device(doc, &actor, &name, now)
            })?;
        }
        self.sync.notices.push(crate::sync_views::SyncNotice {
            kind: crate::sync_views::SyncNoticeKind::Admitted,
            space: Some(link.space),
            device: None,
            message: Some(format!(
                "this device is now linked to {}",
                read.display_name
            )),
        });
        tracing::info!(person = %link.person, "this device is now linked");
        self.sync.membership_changed = true;
        self.sync.devices_due = true;
        Ok(())
    }

    /// Keeps this person's cohorts in step with their devices (see the module docs):
    /// links and unlinks devices in each cohort where this device acts for the person,
    /// lists the cohorts in the profile, adds this device to its member cards, and expects
    /// cohorts the profile lists that are not here yet.
    pub(super) fn reconcile_devices(&mut self) -> Result<()> {
        let me = self.device();
        let person = self.me.person;
        let personal = self.me.personal_space;
        let Some(own) = self.sync.memberships.get(&personal) else {
            return Ok(());
        };
        let devices = match own.members().get(&person) {
            Some(m) if m.devices.contains(&me) => m.devices.clone(),
            // Unlinked: this device acts for nobody any more.
            _ => return Ok(()),
        };
        let linking = self.sync.linking.as_ref().map(|l| l.space);
        let mut acts = Vec::new();
        let mut cohorts = Vec::new();
        for (space, state) in &self.sync.memberships {
            if *space == personal || Some(*space) == linking {
                continue;
            }
            let Some(member) = state.members().get(&person) else {
                continue;
            };
            if !member.devices.contains(&me) {
                continue;
            }
            cohorts.push(*space);
            for d in devices.difference(&member.devices) {
                if state.owner_of(*d).is_none_or(|owner| owner == person) {
                    acts.push((
                        *space,
                        Action::LinkDevice {
                            member: person,
                            device: *d,
                        },
                    ));
                }
            }
            for d in member.devices.difference(&devices) {
                // Only devices the personal log unlinked: it is the one list of devices.
                if own.owner_of(*d) == Some(person) {
                    acts.push((
                        *space,
                        Action::UnlinkDevice {
                            member: person,
                            device: *d,
                        },
                    ));
                }
            }
        }
        for (space, action) in acts {
            let message = match action {
                Action::UnlinkDevice { .. } => "unlink device",
                _ => "link device",
            };
            self.append_entry(space, action, message)?;
        }

        // The profile and member cards: a damaged one is reported and left alone, so it
        // never stops sync.
        let profile_id = self.me.profile;
        let profile = match self.doc(profile_id).map(Profile::read) {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the profile is damaged; its cohorts are not listed");
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(error = %e, "the profile cannot be loaded; its cohorts are not listed");
                return Ok(());
            }
        };
        let actor = self.actor.to_hex_string();
        let name = self.device_name();
        let mut batch = self.batch();
        for space in &cohorts {
            let Ok(charter) = self.charter(*space) else {
                // The charter has not arrived yet; the next reconcile lists it.
                continue;
            };
            if profile.cohorts.get(space) != Some(&charter.name)
                && let Err(e) = self.edit_in(
                    &mut batch,
                    profile_id,
                    "list cohort",
                    Fts::Keep,
                    |doc, _| Profile::set_cohort(doc, *space, &charter.name),
                )
            {
                tracing::warn!(%space, error = %e, "cannot list a cohort in the profile");
            }
            let card = self.member_card_id(*space);
            if self.store.meta(card)?.is_none() {
                continue;
            }
            let listed = match self.doc(card).map(Profile::read) {
                Ok(Ok(c)) => c.devices.iter().any(|d| d.actor == actor),
                // A damaged card is not edited.
                _ => true,
            };
            if !listed
                && let Err(e) =
                    self.edit_in(&mut batch, card, "add device", Fts::Keep, |doc, now| {
                        Profile::add_device(doc, &actor, &name, now)
                    })
            {
                tracing::warn!(%space, error = %e, "cannot add this device to its member card");
            }
        }
        self.commit(batch)?;

        self.expect_listed_cohorts()
    }

    /// This person's other devices, from the personal log (or, while this device is being
    /// linked, from the log of the personal space it is joining), if it lists this one.
    pub(super) fn own_devices(&self) -> BTreeSet<DeviceId> {
        let me = self.device();
        let (space, person) = match &self.sync.linking {
            Some(link) => (link.space, link.person),
            None => (self.me.personal_space, self.me.person),
        };
        self.sync
            .memberships
            .get(&space)
            .and_then(|s| s.members().get(&person))
            .filter(|m| m.devices.contains(&me))
            .map(|m| m.devices.iter().copied().filter(|d| *d != me).collect())
            .unwrap_or_default()
    }

    /// Expects the cohorts the profile lists that are not held here yet (a newly linked
    /// device), so peers offering them are answered and this device offers them.
    pub(super) fn expect_listed_cohorts(&mut self) -> Result<()> {
        if self.sync.linking.is_some() {
            return Ok(());
        }
        let profile = match self.doc(self.me.profile).map(Profile::read) {
            Ok(Ok(p)) => p,
            // A damaged profile lists nothing; `me` reports the damage.
            _ => return Ok(()),
        };
        for space in profile.cohorts.keys() {
            if !self.sync.memberships.contains_key(space) && self.sync.joining.insert(*space) {
                self.sync.membership_changed = true;
            }
        }
        Ok(())
    }

    /// This person's devices (as the personal log lists them), this one first, with the
    /// names they gave and when each was last seen.
    pub fn devices(&mut self) -> Result<Vec<DeviceView>> {
        let me = self.device();
        let person = self.me.person;
        let current: BTreeSet<DeviceId> = self
            .sync
            .memberships
            .get(&self.me.personal_space)
            .and_then(|s| s.members().get(&person))
            .map(|m| m.devices.clone())
            .unwrap_or_else(|| [me].into());
        let profile = Profile::read(self.doc(self.me.profile)?)?;
        let named: BTreeMap<String, (String, Timestamp)> = profile
            .devices
            .into_iter()
            .map(|d| (d.actor, (d.name, d.added_at)))
            .collect();
        let seen: BTreeMap<String, (bool, Option<Timestamp>)> = self
            .peers()?
            .into_iter()
            .map(|p| (p.device, (p.connected, p.last_seen)))
            .collect();
        let now = self.now();
        let mut out: Vec<DeviceView> = current
            .into_iter()
            .map(|d| {
                let hex = d.to_string();
                let this = d == me;
                let (name, linked_at) = match named.get(&hex) {
                    Some((name, at)) => (name.clone(), Some(*at)),
                    None => (format!("device {}", hex.get(..8).unwrap_or(&hex)), None),
                };
                let (connected, last_seen) = seen.get(&hex).copied().unwrap_or((false, None));
                DeviceView {
                    device: hex,
                    name,
                    this_device: this,
                    linked_at,
                    connected: connected || this,
                    last_seen: if this { Some(now) } else { last_seen },
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.this_device
                .cmp(&a.this_device)
                .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
        });
        Ok(out)
    }

    /// Unlinks one of this person's other devices (by id, unique id prefix of at least 4
    /// hex digits, or name): from the personal space and from every cohort. It is
    /// disconnected and receives nothing new (what it already has, it keeps).
    pub fn remove_device(&mut self, text: &str) -> Result<()> {
        let text = text.trim();
        let devices = self.devices()?;
        let lower = text.to_ascii_lowercase();
        let by_id: Vec<&DeviceView> = devices
            .iter()
            .filter(|d| {
                lower.len() >= 4
                    && lower.chars().all(|c| c.is_ascii_hexdigit())
                    && d.device.starts_with(&lower)
            })
            .collect();
        let by_name: Vec<&DeviceView> = devices
            .iter()
            .filter(|d| d.name.eq_ignore_ascii_case(text))
            .collect();
        let found = match (by_id.as_slice(), by_name.as_slice()) {
            ([one], _) | ([], [one]) => *one,
            ([], []) => return Err(CoreError::not_found("device", text)),
            (many, _) if many.len() > 1 => {
                return Err(CoreError::Ambiguous {
                    prefix: text.into(),
                    count: many.len(),
                });
            }
            (_, many) => {
                return Err(CoreError::InvalidInput(format!(
                    "{} devices are called {text:?}; give the device id instead",
                    many.len()
                )));
            }
        };
        if found.this_device {
            return Err(CoreError::InvalidInput(
                "this is the device you are using; remove it from another of your devices".into(),
            ));
        }
        let device: DeviceId = found
            .device
            .parse()
            .map_err(|e: cohort_sync::ParseDeviceIdError| CoreError::InvalidInput(e.to_string()))?;
        self.personal_state()?;
        let personal = self.me.personal_space;
        let person = self.me.person;
        self.append_entry(
            personal,
            Action::UnlinkDevice {
                member: person,
                device,
            },
            "unlink device",
        )?;
        self.reconcile_devices()
    }
}
