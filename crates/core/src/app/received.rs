//! Documents peers sent whole, kept as they came (the store's received documents) so that a
//! first sync is acknowledged as soon as they are on disk, not after every one of them has
//! been loaded and indexed. They are loaded, checked and indexed afterwards: in the
//! background by the node ([`Core::take_received`], [`ReceivedBatch::prepare`] on other
//! threads, [`Core::settle_received`]), or at once when something needs one of them.
//!
//! Until then a received document counts for sync (its heads are in the space's summary)
//! but is not listed or searched; `sync status` shows how many are still being indexed. A
//! document whose bytes do not load strictly to the heads its sender named, or that does
//! not validate, is dropped with a warning, as a bad document sent any other way is; a
//! peer that holds it offers it again on the next connection.

use automerge::{AutoCommit, ChangeHash};
use cohort_model::{DocId, DocKind, SpaceId, Timestamp};
use cohort_store::{DocData, DocMeta, DocWrite, FtsEntry, FtsUpdate, Received, WriteBatch};

use super::{Core, Loaded};
use crate::error::Result;
use crate::index;
use crate::views::{ChangeEvent, ChangeKind};

/// Received documents loaded per background step: few enough that a step's write holds
/// the core only briefly, enough to use every core.
pub const INGEST_DOCS: usize = 256;
/// The bytes of received documents loaded per background step, at most.
pub const INGEST_BYTES: usize = 4 << 20;

/// Received documents to load, check and index, taken from the store
/// ([`Core::take_received`]).
pub struct ReceivedBatch {
    docs: Vec<Received>,
    /// Where the last of them is in the store's order ([`Core::take_received_after`]).
    last: i64,
    now: Timestamp,
}

/// A [`ReceivedBatch`] loaded and checked, ready to be written ([`Core::settle_received`]).
pub struct PreparedBatch {
    docs: Vec<Prepared>,
}

struct Prepared {
    received: Received,
    outcome: std::result::Result<(DocMeta, Vec<FtsEntry>, AutoCommit), String>,
}

impl ReceivedBatch {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Where the last document of the batch is in the store's order: take the next batch
    /// after it while this one is still being prepared.
    pub fn last(&self) -> i64 {
        self.last
    }

    /// Loads (on every core), checks and indexes the documents; needs no access to the core,
    /// so it runs without holding it.
    pub fn prepare(self) -> PreparedBatch {
        let now = self.now;
        PreparedBatch {
            docs: super::parallel::on_every_core(self.docs, |r| prepare_one(r, now)),
        }
    }
}

fn prepare_one(received: Received, now: Timestamp) -> Prepared {
    let outcome = check(&received, now);
    Prepared { received, outcome }
}

/// The document kept `bytes` hold, if they load strictly to exactly the `heads` its sender
/// named; otherwise why not.
pub(super) fn load_as_named(
    bytes: &[u8],
    heads: &[ChangeHash],
) -> std::result::Result<AutoCommit, String> {
    let mut doc = cohort_sync::engine::load_whole(bytes)
        .map_err(|e| format!("its bytes do not load: {e}"))?;
    if !cohort_sync::engine::same_heads(&doc.get_heads(), heads) {
        return Err("its bytes load to other heads than its sender named".into());
    }
    Ok(doc)
}

/// The document `r` holds, its index row and search rows, if its bytes load strictly to the
/// heads its sender named and it is a valid document of that id and space.
fn check(
    r: &Received,
    now: Timestamp,
) -> std::result::Result<(DocMeta, Vec<FtsEntry>, AutoCommit), String> {
    let named: Vec<ChangeHash> = r.heads.iter().copied().map(ChangeHash).collect();
    let mut doc = load_as_named(&r.bytes, &named)?;
    let (meta, fts) =
        index::meta_and_fts(&mut doc, now).map_err(|e| format!("it does not validate: {e}"))?;
    if meta.id != r.id || meta.space != r.space {
        return Err(format!(
            "it names another id or space ({} in {})",
            meta.id, meta.space
        ));
    }
    Ok((meta, fts, doc))
}

impl Core {
    /// The received documents waiting longest (see the module docs), to prepare.
    pub fn take_received(&self, max_docs: usize, max_bytes: usize) -> Result<ReceivedBatch> {
        self.take_received_after(0, max_docs, max_bytes)
    }

    /// The received documents waiting longest that come after `after` in the store's order
    /// ([`ReceivedBatch::last`] of a batch taken before and not yet settled).
    pub fn take_received_after(
        &self,
        after: i64,
        max_docs: usize,
        max_bytes: usize,
    ) -> Result<ReceivedBatch> {
        let docs = self.store.received_after(after, max_docs, max_bytes)?;
        Ok(ReceivedBatch {
            last: docs.last().map_or(after, |(seq, _)| *seq),
            docs: docs.into_iter().map(|(_, r)| r).collect(),
            now: self.clock.now(),
        })
    }

    /// Writes prepared received documents as ordinary ones (one transaction), drops those
    /// that failed their checks, and announces them. Documents settled meanwhile (made at
    /// once because something needed them) are skipped. Returns how many were written.
    pub fn settle_received(&mut self, batch: PreparedBatch) -> Result<usize> {
        let mut write = WriteBatch::default();
        let mut events = Vec::new();
        let mut logs = Vec::new();
        for p in batch.docs {
            let id = p.received.id;
            let still = self
                .store
                .received_heads(id)?
                .is_some_and(|(space, heads)| {
                    space == p.received.space && heads == p.received.heads
                });
            if !still {
                continue;
            }
            write.settled.push(id);
            match p.outcome {
                Ok((meta, fts, _)) => {
                    self.note_arrival(&meta, &mut events, &mut logs);
                    write.docs.push(DocWrite {
                        meta,
                        data: DocData::Replace(p.received.bytes),
                        fts: FtsUpdate::Replace(fts),
                    });
                }
                Err(why) => {
                    tracing::warn!(%id, space = %p.received.space, "dropped a document a peer sent: {why}");
                }
            }
        }
        let written = write.docs.len();
        if !write.settled.is_empty() {
            self.store.write(&write)?;
        }
        self.announce_arrivals(events, logs)?;
        Ok(written)
    }

    /// Loads, checks, indexes and writes up to `max_docs` received documents now (what the
    /// node does in the background, in one step). Returns how many were written.
    pub fn ingest_received(&mut self, max_docs: usize) -> Result<usize> {
        let batch = self.take_received(max_docs, usize::MAX)?;
        self.settle_received(batch.prepare())
    }

    /// Every received document, now (a process that runs no node, such as a one-off
    /// command on a data dir whose node stopped before it finished).
    pub fn ingest_all_received(&mut self) -> Result<usize> {
        let mut total = 0;
        loop {
            let batch = self.take_received(INGEST_DOCS, INGEST_BYTES)?;
            if batch.is_empty() {
                return Ok(total);
            }
            total += self.settle_received(batch.prepare())?;
        }
    }

    /// Whether any received document waits to be indexed.
    pub fn has_received(&self) -> Result<bool> {
        Ok(!self.store.received_counts()?.is_empty())
    }

    /// How many received documents wait to be indexed, per space.
    pub fn received_waiting(&self) -> Result<Vec<(SpaceId, u64)>> {
        Ok(self.store.received_counts()?)
    }

    /// Makes received document `id` now, because something needs it: written as an
    /// ordinary document and returned, or dropped (and `None`) if it fails its checks.
    pub(super) fn settle_one_received(&mut self, id: DocId) -> Result<Option<Loaded>> {
        let Some(received) = self.store.received(id)? else {
            return Ok(None);
        };
        let mut prepared = prepare_one(received, self.clock.now());
        let doc = match &mut prepared.outcome {
            Ok((_, _, doc)) => Some(std::mem::take(doc)),
            Err(_) => None,
        };
        self.settle_received(PreparedBatch {
            docs: vec![prepared],
        })?;
        Ok(doc.map(|d| Loaded {
            doc: d.with_actor(self.actor.clone()),
            chunks: 0,
        }))
    }

    /// Records what a document arriving from a peer means beyond itself: its change event,
    /// a membership log to re-fold, another device's profile to reconcile.
    pub(super) fn note_arrival(
        &mut self,
        meta: &DocMeta,
        events: &mut Vec<ChangeEvent>,
        logs: &mut Vec<(SpaceId, DocId)>,
    ) {
        if meta.kind == DocKind::Membership {
            logs.push((meta.space, meta.id));
        }
        if meta.kind == DocKind::Profile && meta.space == self.me.personal_space {
            // Another of this person's devices may have listed a new cohort.
            self.sync.devices_due = true;
        }
        events.push(ChangeEvent {
            doc: meta.id,
            space: meta.space,
            kind: meta.kind,
            change: ChangeKind::Imported,
        });
    }

    /// After documents from peers were written: announces them and re-folds the
    /// membership logs among them.
    pub(super) fn announce_arrivals(
        &mut self,
        events: Vec<ChangeEvent>,
        logs: Vec<(SpaceId, DocId)>,
    ) -> Result<()> {
        for event in events {
            let _ = self.events.send(event);
        }
        for (space, log) in logs {
            self.refold(space, log)?;
        }
        Ok(())
    }
}
