//! Timings and on-disk size of the real store on generated thread documents (not a test).
//! Run: `cargo run --release -p cohort-store --example store_bench [threads]`.
#![allow(missing_docs)]

#[path = "support/textgen.rs"]
mod textgen;

use std::error::Error;
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use cohort_model::{DocId, DocKind, SpaceId, Timestamp};
use cohort_store::{
    DocData, DocMeta, DocWrite, FtsEntry, FtsUpdate, ListFilter, SearchOptions, Store, WriteBatch,
};
use textgen::{Rng, WORDS, thread_doc};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn Error>> {
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(15_000);
    let dir = tempfile::tempdir()?;
    // BENCH_DB=<path> keeps the database (and reuses it if it already holds documents).
    let path = std::env::var_os("BENCH_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("cohort.sqlite3"));
    let mut store = Store::open(&path)?;
    let reuse = store.stats()?.docs > 0;
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut saved = 0u64;
    let mut rows = 0usize;
    let started = Instant::now();
    for chunk in 0..if reuse { 0 } else { threads.div_ceil(500) } {
        let mut docs = Vec::new();
        for i in (chunk * 500)..((chunk + 1) * 500).min(threads) {
            let (bytes, title, parts) = thread_doc(&mut rng)?;
            let mut doc = AutoCommit::load(&bytes)?;
            saved += bytes.len() as u64;
            rows += parts.len();
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&(i as u64).to_be_bytes());
            id[8..].copy_from_slice(&rng.next().to_be_bytes());
            docs.push(DocWrite {
                meta: DocMeta {
                    id: DocId::from_bytes(id),
                    space: SpaceId::from_bytes([(i % 4) as u8; 16]),
                    kind: DocKind::Thread,
                    title: title.clone(),
                    parent: None,
                    created_at: Timestamp(i as i64),
                    updated_at: Timestamp(i as i64),
                    deleted: false,
                    summary: format!("{{\"posts\":{}}}", parts.len()),
                    heads: doc.get_heads().into_iter().map(|h| h.0).collect(),
                },
                data: DocData::Replace(bytes),
                fts: FtsUpdate::Replace(
                    parts
                        .into_iter()
                        .map(|(part, body)| FtsEntry {
                            part,
                            title: title.clone(),
                            body,
                        })
                        .collect(),
                ),
            });
        }
        store.write(&WriteBatch {
            docs,
            ..WriteBatch::default()
        })?;
    }
    println!(
        "loaded {threads} threads, {rows} post rows in {:?}",
        started.elapsed()
    );
    if !reuse {
        store.vacuum()?;
    }
    let stats = store.stats()?;
    println!(
        "size: file {} B, sum save() {} B, ratio {:.2} (snapshots {} B)",
        stats.file_bytes,
        saved,
        stats.file_bytes as f64 / saved as f64,
        stats.snapshot_bytes
    );

    for (label, from) in [("content words", 100), ("any words (stopwords too)", 0)] {
        let mut times = Vec::new();
        let mut total_hits = 0;
        for i in 0..150 {
            let a = WORDS[from + rng.below(WORDS.len() - from)];
            let b = WORDS[from + rng.below(WORDS.len() - from)];
            let q = match i % 3 {
                0 => a.to_string(),
                1 => format!("{a} {b}"),
                _ => format!("{a} {}", &b[..b.len().min(3)]),
            };
            let t = Instant::now();
            total_hits += store
                .search(
                    &q,
                    &SearchOptions {
                        limit: 20,
                        ..Default::default()
                    },
                )?
                .len();
            times.push(t.elapsed());
        }
        let mut sorted = times.clone();
        sorted.sort();
        println!(
            "search ({label}) over {} rows: median {:?}, p90 {:?}, max {:?} ({total_hits} hits)",
            stats.fts_rows,
            median(times),
            sorted[sorted.len() * 9 / 10],
            sorted[sorted.len() - 1]
        );
    }

    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let n = store
            .list(&ListFilter {
                limit: Some(10_000),
                ..Default::default()
            })?
            .len();
        times.push(t.elapsed());
        assert!(n == threads.min(10_000));
    }
    println!(
        "list of {} docs: median {:?}",
        threads.min(10_000),
        median(times)
    );

    let id = store.list(&ListFilter {
        limit: Some(1),
        ..Default::default()
    })?[0]
        .id;
    let stored = store.load(id)?.ok_or("missing")?;
    let mut doc = AutoCommit::load(&stored.snapshot)?;
    let mut meta = stored.meta;
    let mut times = Vec::new();
    for i in 0..50 {
        doc.put(ROOT, "edit", i as i64)?;
        let chunk = doc.save_incremental();
        meta.heads = doc.get_heads().into_iter().map(|h| h.0).collect();
        let t = Instant::now();
        store.write(&WriteBatch {
            docs: vec![DocWrite {
                meta: meta.clone(),
                data: DocData::Append(chunk),
                fts: FtsUpdate::Keep,
            }],
            ..WriteBatch::default()
        })?;
        times.push(t.elapsed());
    }
    println!("write of one Append: median {:?}", median(times));
    Ok(())
}
