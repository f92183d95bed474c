//! A full disk: Cohort refuses the edit that does not fit with a clear error (exit 7,
//! `disk_full`), keeps every edit it acknowledged before, and works again once space is
//! freed. The disk is a small tmpfs the test mounts itself (it needs root, as CI has; on a
//! machine where mounting is not allowed the test says so and does nothing).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Cohort;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// A tmpfs mounted for the test, unmounted however the test ends.
struct SmallDisk {
    mount: PathBuf,
    _parent: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let parent = tempfile::tempdir().ok()?;
        let mount = parent.path().join("disk");
        std::fs::create_dir(&mount).ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mount)
            .status()
            .ok()?;
        status.success().then_some(SmallDisk {
            mount,
            _parent: parent,
        })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

/// Fills the disk with a file until fewer than `leave` bytes remain; returns the file.
fn fill(dir: &Path, leave: u64) -> std::io::Result<PathBuf> {
    let filler = dir.join("filler");
    let stat = nix::sys::statvfs::statvfs(dir).map_err(std::io::Error::from)?;
    let free = stat.blocks_available() * stat.fragment_size();
    let size = usize::try_from(free.saturating_sub(leave)).map_err(std::io::Error::other)?;
    std::fs::write(&filler, vec![0u8; size])?;
    Ok(filler)
}

#[test]
fn a_full_disk_refuses_the_edit_keeps_what_was_acknowledged_and_recovers() {
    let Some(disk) = SmallDisk::mount("8m") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let me = Cohort::at(disk.mount.join("data"));
    me.ok(&["space", "new", "Night shift"]);
    let thread = me.create(&["thread", "new", "Shift notes", "--body", "Start here."]);
    let filler = fill(&disk.mount, 512 * 1024).expect("fill the small disk");

    // Reply until the disk is full; every reply that succeeded was acknowledged. The text
    // is random so that compression cannot make it fit forever.
    let mut rng = StdRng::seed_from_u64(7);
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for i in 0..200 {
        let noise: String = (0..3_000)
            .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
            .collect();
        let text = format!("reply {i}: {noise}");
        let run = me.run(&["--json", "thread", "reply", &thread, &text]);
        match run.code {
            Some(0) => acknowledged.push(format!("reply {i}:")),
            _ => {
                refused = Some(run);
                break;
            }
        }
    }
    let refused = refused.expect("512 KiB of free space cannot hold 200 random replies of 3 KB");
    refused.expect_code(7, "a full disk has its own exit code");
    assert_eq!(
        refused.json_error()["code"],
        "disk_full",
        "the error names the cause, so the person knows to free space"
    );
    assert!(
        !acknowledged.is_empty(),
        "some replies fit before the disk filled up (otherwise the test proves nothing)"
    );

    // Everything acknowledged is still there, and the database is intact.
    let shown = me.json(&["thread", "show", &thread]);
    let bodies: Vec<String> = shown["thread"]["posts"]
        .as_array()
        .expect("posts")
        .iter()
        .filter_map(|p| p["body"].as_str().map(str::to_owned))
        .collect();
    for prefix in &acknowledged {
        assert!(
            bodies.iter().any(|b| b.starts_with(prefix.as_str())),
            "acknowledged {prefix:?} must survive the full disk"
        );
    }
    assert_eq!(
        bodies.len(),
        acknowledged.len() + 1,
        "the refused reply must not half-appear"
    );

    // Free space: the same data dir takes edits again and checks clean.
    std::fs::remove_file(filler).expect("remove the filler");
    me.ok(&["thread", "reply", &thread, "Space is back."]);
    me.ok(&["check"]);
}
