//! A person's profile: display name, linked devices and the cohorts the person belongs to.
//! Lives in the personal space (a copy with only the name and the device, the *member card*,
//! lives in each cohort).

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc};
use serde::Serialize;

use crate::access;
use crate::error::{ModelError, Result};
use crate::header::{self, Header};
use crate::{DocId, DocKind, PersonId, SpaceId, Timestamp};

/// A profile as read from its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Profile {
    /// The document header.
    pub header: Header,
    /// The person.
    pub person: PersonId,
    /// The name other people see.
    pub display_name: String,
    /// The person's devices.
    pub devices: Vec<Device>,
    /// The cohorts the person belongs to, with their names when last seen (only in the
    /// profile of the personal space, so a newly linked device knows which cohorts to
    /// fetch). Each is a root key `cohort:<space id>`, so two devices adding cohorts at the
    /// same time never race to create a shared map.
    pub cohorts: BTreeMap<SpaceId, String>,
}

/// The root-key prefix of a cohort entry.
const COHORT_KEY: &str = "cohort:";

/// One device of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Device {
    /// The Automerge actor id the device writes with, as hex.
    pub actor: String,
    /// A name for the device, e.g. "laptop".
    pub name: String,
    /// When it was linked.
    pub added_at: Timestamp,
}

/// The longest display name accepted, in characters.
pub const MAX_DISPLAY_NAME: usize = 80;

fn check_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_DISPLAY_NAME {
        return Err(ModelError::InvalidEdit(format!(
            "a display name must have 1 to {MAX_DISPLAY_NAME} characters"
        )));
    }
    Ok(name)
}

impl Profile {
    /// Writes a new profile into an empty document.
    pub fn create<T: Transactable>(
        tx: &mut T,
        id: DocId,
        space: SpaceId,
        person: PersonId,
        display_name: &str,
    ) -> Result<()> {
        let name = check_name(display_name)?;
        header::write(tx, DocKind::Profile, id, space)?;
        tx.put(ROOT, "person", person.to_string())?;
        tx.put(ROOT, "display_name", name)?;
        tx.put_object(ROOT, "devices", ObjType::List)?;
        Ok(())
    }

    /// Reads and validates a profile.
    pub fn read<R: ReadDoc>(doc: &R) -> Result<Profile> {
        let header = header::expect_kind(doc, DocKind::Profile)?;
        let list = access::object(doc, &ROOT, "devices", ObjType::List, "")?;
        let mut devices = Vec::new();
        for (obj, path) in access::list_maps(doc, &list, "devices")? {
            devices.push(Device {
                actor: access::string(doc, &obj, "actor", &path)?,
                name: access::string(doc, &obj, "name", &path)?,
                added_at: Timestamp(access::int(doc, &obj, "added_at", &path)?),
            });
        }
        let mut cohorts = BTreeMap::new();
        for key in access::keys(doc, &ROOT) {
            let Some(space) = key.strip_prefix(COHORT_KEY) else {
                continue;
            };
            let space: SpaceId = space
                .parse()
                .map_err(|_| ModelError::malformed(&key, "not a space id after \"cohort:\""))?;
            cohorts.insert(space, access::string(doc, &ROOT, &key, "")?);
        }
        Ok(Profile {
            header,
            person: access::parsed(doc, &ROOT, "person", "")?,
            display_name: access::string(doc, &ROOT, "display_name", "")?,
            devices,
            cohorts,
        })
    }

    /// Records that the person belongs to the cohort `space` called `name` (or renames it).
    pub fn set_cohort<T: Transactable>(tx: &mut T, space: SpaceId, name: &str) -> Result<()> {
        header::expect_kind(tx, DocKind::Profile)?;
        tx.put(ROOT, format!("{COHORT_KEY}{space}"), name)?;
        Ok(())
    }

    /// Changes the display name.
    pub fn set_display_name<T: Transactable>(tx: &mut T, name: &str) -> Result<()> {
        let name = check_name(name)?;
        header::expect_kind(tx, DocKind::Profile)?;
        tx.put(ROOT, "display_name", name)?;
        Ok(())
    }

    /// Records a device; a device already listed (same actor) is not added twice.
    pub fn add_device<T: Transactable>(
        tx: &mut T,
        actor: &str,
        name: &str,
        at: Timestamp,
    ) -> Result<()> {
        header::expect_kind(tx, DocKind::Profile)?;
        let list = access::object(tx, &ROOT, "devices", ObjType::List, "")?;
        for (obj, path) in access::list_maps(tx, &list, "devices")? {
            if access::string(tx, &obj, "actor", &path)? == actor {
                return Ok(());
            }
        }
        let obj = tx.insert_object(&list, tx.length(&list), ObjType::Map)?;
        tx.put(&obj, "actor", actor)?;
        tx.put(&obj, "name", name)?;
        tx.put(&obj, "added_at", at.millis())?;
        Ok(())
    }
}
