//! The header every Cohort document carries at its root: schema version, kind, id, space.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT, ReadDoc};
use serde::Serialize;

use crate::access;
use crate::error::{ModelError, Result};
use crate::{DocId, DocKind, SpaceId};

/// The newest document schema this build reads and writes.
pub const SCHEMA_VERSION: u64 = 1;

/// What every document says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Header {
    /// The schema version the document was written with.
    pub schema: u64,
    /// What kind of document this is.
    pub kind: DocKind,
    /// The document's own id.
    pub id: DocId,
    /// The space the document belongs to.
    pub space: SpaceId,
    /// Whether the document has been deleted (a tombstone that still syncs).
    pub deleted: bool,
}

/// Writes a header into an empty document.
pub(crate) fn write<T: Transactable>(
    tx: &mut T,
    kind: DocKind,
    id: DocId,
    space: SpaceId,
) -> Result<()> {
    tx.put(ROOT, "schema", SCHEMA_VERSION)?;
    tx.put(ROOT, "kind", kind.as_str())?;
    tx.put(ROOT, "id", id.to_string())?;
    tx.put(ROOT, "space", space.to_string())?;
    Ok(())
}

/// Reads and validates a document's header.
///
/// A document without a header is [`ModelError::NotCohort`]; one from a newer schema is
/// [`ModelError::NewerSchema`].
pub fn read_header<R: ReadDoc>(doc: &R) -> Result<Header> {
    let schema = match access::opt_int(doc, &ROOT, "schema", "") {
        Ok(Some(v)) => v,
        Ok(None) => return Err(ModelError::NotCohort("it has no schema version".into())),
        Err(_) => {
            return Err(ModelError::NotCohort(
                "its schema version is not a number".into(),
            ));
        }
    };
    let schema = u64::try_from(schema)
        .map_err(|_| ModelError::NotCohort(format!("schema version {schema} is negative")))?;
    if schema > SCHEMA_VERSION {
        return Err(ModelError::NewerSchema {
            found: schema,
            supported: SCHEMA_VERSION,
        });
    }
    if schema == 0 {
        return Err(ModelError::NotCohort("schema version 0".into()));
    }
    let kind_text = access::string(doc, &ROOT, "kind", "")?;
    let kind = kind_text
        .parse::<DocKind>()
        .map_err(|e| ModelError::NotCohort(e.to_string()))?;
    Ok(Header {
        schema,
        kind,
        id: access::parsed(doc, &ROOT, "id", "")?,
        space: access::parsed(doc, &ROOT, "space", "")?,
        deleted: access::flag(doc, &ROOT, "deleted", "")?,
    })
}

/// Reads the header and checks the document is of the `expected` kind.
pub fn expect_kind<R: ReadDoc>(doc: &R, expected: DocKind) -> Result<Header> {
    let header = read_header(doc)?;
    if header.kind != expected {
        return Err(ModelError::WrongKind {
            expected,
            found: header.kind,
        });
    }
    Ok(header)
}

/// Marks a document deleted (or restores it). Deletion is a field, so it syncs and merges.
pub fn set_deleted<T: Transactable>(tx: &mut T, deleted: bool) -> Result<()> {
    read_header(tx)?;
    tx.put(ROOT, "deleted", deleted)?;
    Ok(())
}

/// Loads Automerge bytes (a saved document, possibly followed by incremental chunks) and
/// checks that the result is a Cohort document.
pub fn load(bytes: &[u8]) -> Result<(AutoCommit, Header)> {
    let doc = AutoCommit::load(bytes)
        .map_err(|e| ModelError::NotCohort(format!("not valid Automerge data ({e})")))?;
    let header = read_header(&doc)?;
    Ok((doc, header))
}
