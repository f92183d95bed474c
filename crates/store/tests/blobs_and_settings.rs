//! Attachments are stored once by content; settings survive restarts.

mod common;

use cohort_store::BlobHash;
use common::{TempStore, TestResult};

#[test]
fn a_blob_round_trips_and_storing_it_twice_keeps_one_copy() -> TestResult {
    let mut t = TempStore::new()?;
    let data = b"diagram.png bytes".repeat(100);
    let h1 = t.store.put_blob(&data)?;
    let h2 = t.store.put_blob(&data)?;
    assert_eq!(h1, h2, "same bytes, same address");
    assert_eq!(h1, BlobHash::of(&data));
    assert_eq!(
        t.store.stats()?.blobs,
        1,
        "the second put must not add a row"
    );
    let text = h1.to_string();
    assert_eq!(text.len(), 64);
    assert_eq!(
        text.parse::<BlobHash>()?,
        h1,
        "hashes round-trip through text"
    );
    assert!("xyz".parse::<BlobHash>().is_err());
    let t = t.reopen()?;
    assert_eq!(t.store.get_blob(&h1)?, Some(data));
    assert_eq!(t.store.get_blob(&BlobHash([0; 32]))?, None);
    Ok(())
}

#[test]
fn settings_are_overwritten_and_survive_a_restart() -> TestResult {
    let mut t = TempStore::new()?;
    assert_eq!(t.store.kv_get("device.actor")?, None);
    t.store.kv_set("device.actor", b"one")?;
    t.store.kv_set("device.actor", b"two")?;
    let t = t.reopen()?;
    assert_eq!(t.store.kv_get("device.actor")?, Some(b"two".to_vec()));
    Ok(())
}
