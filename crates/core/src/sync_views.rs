//! What sync queries return and what the node tells the UI: serializable views.

use cohort_model::{PersonId, Role, SpaceId, Timestamp};
use serde::Serialize;

/// A ticket just created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct InviteView {
    /// The ticket text (`cohort1…`) to hand to the invited person.
    pub ticket: String,
    /// The cohort.
    pub space: SpaceId,
    /// The role it grants.
    pub role: Role,
    /// How many people may use it.
    pub uses: u32,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// The addresses the ticket holds (empty: the joiner can only find us on the LAN).
    pub addrs: Vec<String>,
}

/// A ticket redeemed, waiting for a member to admit this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct JoinView {
    /// The cohort.
    pub space: SpaceId,
    /// The role the ticket grants.
    pub role: Role,
    /// Where the inviter said it can be reached.
    pub addrs: Vec<String>,
}

/// A device this one knows of: connected now, or seen before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PeerView {
    /// The device id (hex of its Ed25519 public key).
    pub device: String,
    /// The person it belongs to, if a shared cohort's log says so.
    pub person: Option<PersonId>,
    /// That person's display name, if their member card is held here.
    pub name: Option<String>,
    /// Whether it is connected now.
    pub connected: bool,
    /// Its address (the last one seen).
    pub addr: Option<String>,
    /// When it was last connected (now, if connected).
    pub last_seen: Option<Timestamp>,
}

/// One space's sync state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SpaceSyncView {
    /// The space.
    pub space: SpaceId,
    /// The cohort's name ("Personal" for the personal space).
    pub name: String,
    /// Connected peers syncing this space now.
    pub peers: usize,
    /// Documents with changes in flight to or from those peers.
    pub pending: usize,
    /// When this space was last fully in sync with a peer.
    pub last_sync: Option<Timestamp>,
    /// For a cohort being joined: `"waiting"`, or why the last member refused.
    pub joining: Option<String>,
    /// Bytes of sync frames about this space sent to peers since the node started.
    #[ts(type = "number")]
    pub bytes_sent: u64,
    /// Bytes of sync frames about this space received from peers since the node started.
    #[ts(type = "number")]
    pub bytes_received: u64,
    /// Documents received from peers and stored, not yet indexed (not listed or searched
    /// until they are; see `cohort sync status`).
    #[ts(type = "number")]
    pub indexing: u64,
}

/// What kind of thing a [`SyncNotice`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum SyncNoticeKind {
    /// A peer connected.
    PeerConnected,
    /// A peer disconnected.
    PeerDisconnected,
    /// A space is in sync with a peer.
    Synced,
    /// This device was admitted to a cohort (or admitted someone).
    Admitted,
    /// A peer refused a session or an admission.
    Refused,
}

/// A sync happening, for the UI and the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SyncNotice {
    /// What happened.
    pub kind: SyncNoticeKind,
    /// The space concerned, if any.
    pub space: Option<SpaceId>,
    /// The peer device concerned, if any (hex).
    pub device: Option<String>,
    /// A human-readable detail.
    pub message: Option<String>,
}

/// A device-link ticket just created (`cohort device link`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct DeviceLinkView {
    /// The ticket text (`cohort1…`) to give to the new device (`cohort device add`). It works
    /// once.
    pub ticket: String,
    /// The personal space the new device will share.
    pub space: SpaceId,
    /// The person the new device will belong to.
    pub person: PersonId,
    /// When the ticket stops working.
    pub expires_at: Timestamp,
    /// The addresses the ticket holds (empty: the new device can only find this one on the
    /// LAN).
    pub addrs: Vec<String>,
}

/// A device-link ticket redeemed on a new device, waiting for one of the person's devices to
/// link it (`cohort device add`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct DeviceAddView {
    /// The personal space this device is joining.
    pub space: SpaceId,
    /// The person this device will belong to.
    pub person: PersonId,
    /// Where the linking device said it can be reached.
    pub addrs: Vec<String>,
}

/// Where a device link started with `device add` stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct LinkingView {
    /// The personal space being joined.
    pub space: SpaceId,
    /// The person this device will belong to.
    pub person: PersonId,
    /// Why the last device asked refused, if one did.
    pub refused: Option<String>,
    /// Whether that refusal is final (the ticket expired, was used up, or is not valid), so
    /// waiting longer cannot help.
    pub hopeless: bool,
}

/// One device of this person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct DeviceView {
    /// The device id (hex of its Ed25519 public key).
    pub device: String,
    /// Its name, as it said when it was linked.
    pub name: String,
    /// Whether it is the device answering.
    pub this_device: bool,
    /// When it was linked (from the profile), if known.
    pub linked_at: Option<Timestamp>,
    /// Whether it is connected now.
    pub connected: bool,
    /// When it was last connected (now, if connected), if ever seen.
    pub last_seen: Option<Timestamp>,
}
