//! How long a launch took until the window showed something and until the UI was usable,
//! as the page measured it (Paint Timing and the UI's `cohort:interactive` mark), logged
//! once per launch at info level:
//!
//! ```text
//! startup: painted 412 ms, interactive 655 ms after launch painted_at_ms=... interactive_at_ms=...
//! ```
//!
//! The `*_at_ms` fields are wall-clock times (ms since the Unix epoch), so a launcher that
//! noted when it started the process can time the launch itself; the durations count from
//! the moment the kernel started this process (Linux; elsewhere from `main`). The desktop
//! benchmark (`tests/desktop/bench.mjs`) reads this line from the app and from the empty
//! baseline app, which shares this module.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;

/// What the page reports: wall-clock times in ms since the Unix epoch (the page's
/// `performance.timeOrigin` plus each entry's `startTime`).
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct StartupMarks {
    /// The page's time origin: the web view began loading it.
    #[serde(default)]
    pub page_at_ms: Option<f64>,
    /// First contentful paint: the window shows text.
    pub painted_at_ms: Option<f64>,
    /// The UI's script started running (Cohort's UI only).
    #[serde(default)]
    pub script_at_ms: Option<f64>,
    /// The UI loaded who you are and your spaces (Cohort's UI only).
    #[serde(default)]
    pub data_at_ms: Option<f64>,
    /// The start view is on the page and asks for its data (Cohort's UI only).
    #[serde(default)]
    pub view_at_ms: Option<f64>,
    /// The start view has put that data in the DOM (Cohort's UI only).
    #[serde(default)]
    pub rendered_at_ms: Option<f64>,
    /// The start view has rendered what it loaded, and the window has painted (the later of
    /// the UI's interactive mark and the first paint; Cohort's UI only).
    pub interactive_at_ms: Option<f64>,
}

static LAUNCHED_AT_MS: OnceLock<f64> = OnceLock::new();
static REPORTED: OnceLock<()> = OnceLock::new();

/// Notes when the process started; call first thing in `main`.
pub fn note_launch() {
    let _ = LAUNCHED_AT_MS.get_or_init(|| process_start_ms().unwrap_or_else(now_ms));
}

/// Logs (at debug level) how long after launch the app reached `phase`.
pub fn phase(phase: &str) {
    if let Some(launched) = LAUNCHED_AT_MS.get() {
        tracing::debug!(
            "startup: {phase} {:.0} ms after launch",
            now_ms() - launched
        );
    }
}

/// Logs the page's marks (the first report of a launch only: a reloaded page reports again).
#[tauri::command]
pub fn startup(marks: StartupMarks) {
    if REPORTED.set(()).is_err() {
        return;
    }
    let launched = *LAUNCHED_AT_MS.get_or_init(now_ms);
    let after = |at: Option<f64>| match at {
        Some(at) if at.is_finite() => format!("{:.0} ms", (at - launched).max(0.0)),
        _ => "not measured".to_owned(),
    };
    tracing::info!(
        painted_at_ms = marks.painted_at_ms,
        interactive_at_ms = marks.interactive_at_ms,
        "startup: painted {}, interactive {} after launch",
        after(marks.painted_at_ms),
        after(marks.interactive_at_ms),
    );
    tracing::debug!(
        "startup steps after launch: page requested {}, painted {}, script running {}, \
         data loaded {}, start view shown {}, its data rendered {}, interactive {}",
        after(marks.page_at_ms),
        after(marks.painted_at_ms),
        after(marks.script_at_ms),
        after(marks.data_at_ms),
        after(marks.view_at_ms),
        after(marks.rendered_at_ms),
        after(marks.interactive_at_ms),
    );
}

#[allow(
    clippy::disallowed_methods,
    reason = "the page's marks are wall-clock times; this times the real launch, not document edits"
)]
fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// When the kernel started this process (10 ms resolution), from `/proc`: now minus the
/// process's age (the boot time in `/proc/stat` is whole seconds, too coarse to add to).
#[cfg(target_os = "linux")]
fn process_start_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    Some(now_ms() - process_age_ms(&stat, &uptime)?)
}

#[cfg(not(target_os = "linux"))]
fn process_start_ms() -> Option<f64> {
    None
}

/// How long ago the process started: the system's uptime (`/proc/uptime`, seconds with two
/// decimals) minus the start time in `/proc/self/stat` (field 22, clock ticks since boot;
/// USER_HZ is 100 on every Linux architecture Tauri runs on).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn process_age_ms(stat: &str, uptime: &str) -> Option<f64> {
    // The command name (field 2) is in parentheses and may hold spaces or parentheses.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let ticks: f64 = after_name.split_whitespace().nth(19)?.parse().ok()?;
    let up: f64 = uptime.split_whitespace().next()?.parse().ok()?;
    Some((up * 1000.0 - ticks * 10.0).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_age_comes_from_the_stat_files() {
        let stat = "4242 (cohort (desk) top) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 \
                    12 0 123456 1000000 5000 18446744073709551615";
        // Started 1234.56 s after boot; now 1240.06 s after boot.
        assert_eq!(process_age_ms(stat, "1240.06 2000.00\n"), Some(5_500.0));
        assert_eq!(process_age_ms("garbage", "1240.06 2000.00\n"), None);
        assert_eq!(process_age_ms(stat, "no uptime"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_started_in_the_past() {
        let started = process_start_ms().expect("readable on Linux");
        let now = now_ms();
        assert!(started <= now + 10.0, "{started} vs {now}");
        assert!(now - started < 24.0 * 3600.0 * 1000.0);
    }
}
