//! Folding change chunks into a snapshot keeps every edit and the exact heads.

mod common;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};
use cohort_model::DocKind;
use cohort_store::{COMPACT_WHEN_CHUNK_BYTES_EXCEED, DocData, FtsUpdate, StoreError};
use common::{TempStore, TestResult, doc_id, heads_of, meta, one, space};

/// Writes a real document as Replace + `edits` Append chunks, one per edit.
fn write_edits(t: &mut TempStore, edits: usize) -> Result<AutoCommit, Box<dyn std::error::Error>> {
    let mut doc = AutoCommit::new();
    let text = doc.put_object(ROOT, "body", ObjType::Text)?;
    doc.put(ROOT, "title", "Cells")?;
    let mut m = meta(doc_id(1), space(1), DocKind::Lesson, "Cells", 1);
    m.heads = heads_of(&mut doc);
    t.store.write(&one(
        m.clone(),
        DocData::Replace(doc.save()),
        FtsUpdate::Keep,
    ))?;
    for i in 0..edits {
        doc.splice_text(&text, 0, 0, &format!("edit {i}. "))?;
        doc.put(ROOT, "count", i as i64)?;
        let chunk = doc.save_incremental();
        m.heads = heads_of(&mut doc);
        m.updated_at.0 += 1;
        t.store
            .write(&one(m.clone(), DocData::Append(chunk), FtsUpdate::Keep))?;
    }
    Ok(doc)
}

fn reload(t: &TempStore) -> Result<AutoCommit, Box<dyn std::error::Error>> {
    let stored = t.store.load(doc_id(1))?.ok_or("document missing")?;
    let mut doc = AutoCommit::load(&stored.snapshot)?;
    for chunk in &stored.chunks {
        doc.load_incremental(chunk)?;
    }
    Ok(doc)
}

#[test]
fn compacting_keeps_the_content_and_the_heads() -> TestResult {
    let mut t = TempStore::new()?;
    t.store.set_compaction_threshold(1000);
    let mut original = write_edits(&mut t, 5)?;
    let chunks_before = t.store.load(doc_id(1))?.ok_or("missing")?.chunks.len();
    t.store.compact(doc_id(1))?;
    let stored = t.store.load(doc_id(1))?.ok_or("missing")?;
    assert!(
        stored.chunks.is_empty(),
        "compaction folds all {chunks_before} chunks"
    );
    let mut loaded = reload(&t)?;
    assert_eq!(
        loaded.get_heads(),
        original.get_heads(),
        "heads must survive exactly"
    );
    let text = loaded.get(ROOT, "body")?.ok_or("no body")?.1;
    assert_eq!(
        loaded.text(&text)?,
        original.text(&text)?,
        "text must survive exactly"
    );
    assert_eq!(
        loaded.get(ROOT, "count")?.map(|v| v.0.to_string()),
        original.get(ROOT, "count")?.map(|v| v.0.to_string())
    );
    Ok(())
}

#[test]
fn automatic_compaction_fires_when_chunks_pass_the_threshold() -> TestResult {
    let mut t = TempStore::new()?;
    t.store.set_compaction_threshold(3);
    let mut doc = AutoCommit::new();
    // Enough incompressible content that 3 small chunks do not outweigh the snapshot.
    let mut seed = 7u32;
    let padding: String = (0..4000)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            char::from(b'a' + ((seed >> 16) % 26) as u8)
        })
        .collect();
    doc.put(ROOT, "padding", padding)?;
    let mut m = meta(doc_id(1), space(1), DocKind::Note, "n", 1);
    m.heads = heads_of(&mut doc);
    t.store.write(&one(
        m.clone(),
        DocData::Replace(doc.save()),
        FtsUpdate::Keep,
    ))?;
    let mut compacted_at = None;
    for i in 0..4 {
        doc.put(ROOT, "n", i as i64)?;
        let chunk = doc.save_incremental();
        m.heads = heads_of(&mut doc);
        let outcome = t
            .store
            .write(&one(m.clone(), DocData::Append(chunk), FtsUpdate::Keep))?;
        if !outcome.compacted.is_empty() && compacted_at.is_none() {
            compacted_at = Some(i + 1);
        }
    }
    assert_eq!(
        compacted_at,
        Some(4),
        "the 4th chunk passes a threshold of 3"
    );
    assert!(t.store.load(doc_id(1))?.ok_or("missing")?.chunks.is_empty());
    assert_eq!(reload(&t)?.get_heads(), doc.get_heads());
    Ok(())
}

#[test]
fn small_chunks_wait_for_the_count_but_heavy_chunks_compact_at_once() -> TestResult {
    let mut t = TempStore::new()?;
    // A few small edits outweigh the tiny snapshot but stay far below the byte floor, so
    // they wait (recompacting on every few keystrokes would reload the whole history).
    let mut doc = write_edits(&mut t, 3)?;
    let stored = t.store.load(doc_id(1))?.ok_or("missing")?;
    assert_eq!(
        stored.chunks.len(),
        3,
        "small chunks wait for the count threshold"
    );

    // Chunks heavier than both the snapshot and the floor are folded in right away.
    let mut m = meta(doc_id(1), space(1), DocKind::Lesson, "Cells", 1);
    let big = "x".repeat(usize::try_from(COMPACT_WHEN_CHUNK_BYTES_EXCEED)? + 1024);
    doc.put(ROOT, "attachment_text", big.as_str())?;
    let chunk = doc.save_incremental();
    m.heads = heads_of(&mut doc);
    let outcome = t
        .store
        .write(&one(m, DocData::Append(chunk), FtsUpdate::Keep))?;
    assert_eq!(
        outcome.compacted,
        vec![doc_id(1)],
        "a heavy chunk compacts at once"
    );
    assert!(t.store.load(doc_id(1))?.ok_or("missing")?.chunks.is_empty());
    assert_eq!(reload(&t)?.get_heads(), doc.get_heads());
    Ok(())
}

#[test]
fn compact_all_folds_every_document_and_reports_it() -> TestResult {
    let mut t = TempStore::new()?;
    t.store.set_compaction_threshold(1000);
    let mut doc = write_edits(&mut t, 2)?;
    let stats = t.store.compact_all()?;
    assert!(
        stats.docs_compacted <= 1 && stats.docs_failed == 0,
        "{stats:?}"
    );
    assert_eq!(t.store.stats()?.chunks, 0);
    assert_eq!(reload(&t)?.get_heads(), doc.get_heads());
    t.store.vacuum()?;
    t.store.integrity_check()?;
    Ok(())
}

#[test]
fn heads_that_the_chunks_do_not_reproduce_block_compaction_but_not_the_write() -> TestResult {
    let mut t = TempStore::new()?;
    t.store.set_compaction_threshold(1);
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "a", 1)?;
    let mut m = meta(doc_id(1), space(1), DocKind::Note, "n", 1);
    m.heads = vec![[0xee; 32]]; // wrong on purpose
    t.store.write(&one(
        m.clone(),
        DocData::Append(doc.save_incremental()),
        FtsUpdate::Keep,
    ))?;
    doc.put(ROOT, "a", 2)?;
    let outcome = t.store.write(&one(
        m.clone(),
        DocData::Append(doc.save_incremental()),
        FtsUpdate::Keep,
    ))?;
    assert!(
        outcome.compacted.is_empty(),
        "a doc whose heads disagree is not compacted"
    );
    assert_eq!(
        t.store.load(doc_id(1))?.ok_or("missing")?.chunks.len(),
        2,
        "edits are kept as chunks"
    );
    let err = t
        .store
        .compact(doc_id(1))
        .err()
        .ok_or("explicit compaction must refuse")?;
    assert!(matches!(err, StoreError::Automerge { .. }), "{err:?}");
    assert_eq!(reload(&t)?.get_heads(), doc.get_heads(), "nothing was lost");
    Ok(())
}
