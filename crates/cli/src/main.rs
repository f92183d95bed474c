//! `cohort`: scripting access to a Cohort data dir.
//!
//! Every subcommand opens the data dir (the platform default, `--data-dir`, or
//! `COHORT_DATA_DIR`), runs one command through the API, and prints a human-readable result,
//! or JSON with `--json`. `cohort batch` runs many commands, one JSON array of arguments per
//! line on standard input, and acknowledges each with a JSON line once it is committed.
//!
//! Exit codes: 0 success, 2 usage, 3 not found or ambiguous, 4 invalid input or document,
//! 5 data dir locked, unusable or read-only, 6 database damaged, foreign or newer,
//! 7 disk full, 1 anything else.

mod args;
mod http;
mod run;
mod serve;

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use cohort_api::{Api, ApiError, DocKind, ErrorCode, OpenOptions};

use crate::args::{Cli, Command};

fn exit_code(code: ErrorCode) -> u8 {
    match code {
        ErrorCode::NotFound | ErrorCode::AmbiguousId => 3,
        ErrorCode::InvalidInput | ErrorCode::InvalidEdit | ErrorCode::InvalidDocument => 4,
        ErrorCode::DataDirLocked
        | ErrorCode::DataDirUnusable
        | ErrorCode::ReadOnly
        | ErrorCode::Busy => 5,
        ErrorCode::CorruptDatabase | ErrorCode::ForeignDatabase | ErrorCode::NewerVersion => 6,
        ErrorCode::DiskFull => 7,
        ErrorCode::Internal => 1,
    }
}

fn report(err: &ApiError, json: bool) -> ExitCode {
    if json {
        let body = serde_json::json!({ "error": { "code": err.code, "message": err.message } });
        eprintln!("{body}");
    } else {
        eprintln!("error: {}", err.message);
    }
    ExitCode::from(exit_code(err.code))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The automerge crate logs its own parse failures at ERROR level; the command already
    // reports them as its error, and a second line would break the one-line (or one JSON
    // line with --json) error contract on stderr. COHORT_LOG still shows everything.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COHORT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,automerge=off")),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let Some(root) = cli.data_dir.clone().or_else(Api::default_data_dir) else {
        return report(
            &ApiError::invalid("no home directory to hold the data dir; pass --data-dir"),
            cli.json,
        );
    };
    let options = OpenOptions {
        display_name: match &cli.command {
            Command::Init { name } => name.clone(),
            _ => None,
        },
        ..OpenOptions::default()
    };
    let mut api = match Api::open(&root, options) {
        Ok(api) => api,
        Err(e) if e.code == ErrorCode::DataDirLocked => {
            // A node may be serving this data dir: it runs the command instead.
            let argv: Vec<String> = std::env::args().skip(1).collect();
            return match serve::forward(&root, &argv, cli.json) {
                Some(Ok(out)) => {
                    print!("{out}");
                    ExitCode::SUCCESS
                }
                Some(Err(e)) => report(&e, cli.json),
                None => report(&e, cli.json),
            };
        }
        Err(e) => return report(&e, cli.json),
    };
    if !matches!(cli.command, Command::Serve(_))
        && let Err(e) = api.ingest_all_received()
    {
        // A node that stopped before indexing what it received left it for this process.
        return report(&e, cli.json);
    }
    match cli.command {
        Command::Batch => return batch(&mut api),
        Command::Serve(args) => return serve::serve(&root, api, args),
        Command::Join { ticket, wait } => return join(api, &ticket, wait, cli.json),
        Command::Device(args::DeviceCmd::Add { ticket, name, wait }) => {
            return device_add(api, &ticket, name.as_deref(), wait, cli.json);
        }
        Command::Sync(args::SyncCmd::Now { wait }) => return sync_now(api, wait, cli.json),
        _ => {}
    }
    let mut out = std::io::stdout().lock();
    match run::run(&mut api, cli.command, cli.json, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e, cli.json),
    }
}

/// `cohort join` without a running node: runs one until a member admits this device and
/// the cohort is in sync, or `wait` seconds pass.
fn join(api: Api, ticket: &str, wait: u64, json: bool) -> ExitCode {
    let joined = std::cell::Cell::new(None);
    let result = serve::with_temporary_node(
        api,
        std::time::Duration::from_secs(wait),
        |api| {
            joined.set(Some(api.join(ticket)?.space));
            Ok(())
        },
        |api| joined.get().is_some_and(|s| serve::settled(api, Some(s))),
    );
    let space = joined.get();
    let (mut api, done) = match result {
        Ok(r) => r,
        Err(e) => return report(&e, json),
    };
    let Some(space) = space else {
        return report(&ApiError::invalid("the ticket was not redeemed"), json);
    };
    if !done {
        let why = api
            .sync_status()
            .ok()
            .and_then(|s| s.into_iter().find(|v| v.space == space))
            .and_then(|v| v.joining)
            .unwrap_or_else(|| "no member answered".into());
        return report(
            &ApiError::invalid(format!(
                "not admitted within {wait} s ({why}). Is a member's `cohort serve` running and reachable? The join stays pending: `cohort serve` keeps trying."
            )),
            json,
        );
    }
    let name = api.charter(space).map(|c| c.name).unwrap_or_default();
    let docs = api
        .list(&DocKind::ALL, Some(space), None)
        .map(|l| l.len())
        .unwrap_or(0);
    if json {
        println!(
            "{}",
            serde_json::json!({ "space": space, "name": name, "documents": docs })
        );
    } else {
        println!("Joined {name} ({docs} documents).");
    }
    ExitCode::SUCCESS
}

/// `cohort device add` without a running node: runs one until one of the person's devices
/// links this one and everything of theirs has arrived, a device refuses for good, or `wait`
/// seconds pass.
fn device_add(api: Api, ticket: &str, name: Option<&str>, wait: u64, json: bool) -> ExitCode {
    let started = std::cell::Cell::new(false);
    let result = serve::with_temporary_node(
        api,
        std::time::Duration::from_secs(wait),
        |api| {
            api.device_add(ticket, name)?;
            started.set(true);
            Ok(())
        },
        |api| match api.device_linking() {
            Ok(Some(link)) => link.hopeless,
            // Linked: done once the personal space and every cohort of the person arrived.
            Ok(None) => {
                let personal = api.personal_space();
                serve::settled(api, Some(personal))
                    && api
                        .sync_status()
                        .is_ok_and(|s| s.iter().all(|v| v.joining.is_none()))
            }
            Err(_) => false,
        },
    );
    let (mut api, done) = match result {
        Ok(r) => r,
        Err(e) => return report(&e, json),
    };
    if !started.get() {
        return report(&ApiError::invalid("the ticket was not redeemed"), json);
    }
    match api.device_linking() {
        Ok(Some(link)) => {
            let why = link
                .refused
                .unwrap_or_else(|| "none of your devices answered".into());
            let message = if link.hopeless {
                format!("not linked: {why}")
            } else {
                format!(
                    "not linked within {wait} s ({why}). Is `cohort serve` running on the device that made the ticket, and reachable? The link stays pending: `cohort serve` keeps trying."
                )
            };
            return report(&ApiError::invalid(message), json);
        }
        Ok(None) => {}
        Err(e) => return report(&e, json),
    }
    let name = api.me().map(|m| m.display_name).unwrap_or_default();
    let personal = api.personal_space();
    let journal = api.journal().map(|l| l.len()).unwrap_or(0);
    let cohorts = api
        .spaces()
        .map(|s| s.iter().filter(|s| !s.personal).count())
        .unwrap_or(0);
    if json {
        println!(
            "{}",
            serde_json::json!({
                "linked": true, "name": name, "personal_space": personal,
                "journal_entries": journal, "cohorts": cohorts, "complete": done
            })
        );
    } else {
        println!(
            "This device is now {name}'s: {journal} journal entries, {cohorts} cohort(s) so far."
        );
        if !done {
            println!("Some of your cohorts are still arriving; `cohort serve` finishes the sync.");
        }
    }
    ExitCode::SUCCESS
}

/// `cohort sync now` without a running node: runs one until in sync or `wait` passes.
fn sync_now(api: Api, wait: u64, json: bool) -> ExitCode {
    let result = serve::with_temporary_node(
        api,
        std::time::Duration::from_secs(wait),
        |_| Ok(()),
        |api| serve::settled(api, None),
    );
    match result {
        Ok((_, true)) => {
            if json {
                println!("{}", serde_json::json!({ "synced": true }));
            } else {
                println!("In sync.");
            }
            ExitCode::SUCCESS
        }
        Ok((_, false)) => report(
            &ApiError::invalid(format!(
                "no peer synced within {wait} s: are other members online and reachable?"
            )),
            json,
        ),
        Err(e) => report(&e, json),
    }
}

/// Runs one command per input line (a JSON array of arguments, as after `cohort`), printing
/// one JSON line per command after it has committed.
fn batch(api: &mut Api) -> ExitCode {
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    for (n, line) in stdin.lines().enumerate() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot read standard input: {e}");
                return ExitCode::from(1);
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let result = serde_json::from_str::<Vec<String>>(&line)
            .map_err(|e| {
                ApiError::invalid(format!(
                    "line {}: expected a JSON array of strings: {e}",
                    n + 1
                ))
            })
            .and_then(|words| {
                let argv = std::iter::once("cohort".to_owned()).chain(words);
                Cli::try_parse_from(argv)
                    .map_err(|e| ApiError::invalid(format!("line {}: {}", n + 1, e.render())))
            })
            .and_then(|cli| match cli.command {
                Command::Batch | Command::Init { .. } => Err(ApiError::invalid(
                    "init and batch cannot run inside a batch",
                )),
                command => {
                    let mut buf = Vec::new();
                    run::run(api, command, true, &mut buf)?;
                    Ok(buf)
                }
            });
        let written = match result {
            Ok(buf) => {
                let text = String::from_utf8_lossy(&buf);
                let value: serde_json::Value =
                    serde_json::from_str(text.trim()).unwrap_or(serde_json::Value::Null);
                writeln!(stdout, "{}", serde_json::json!({ "ok": value }))
            }
            Err(e) => writeln!(
                stdout,
                "{}",
                serde_json::json!({ "error": { "code": e.code, "message": e.message } })
            ),
        };
        if written.and_then(|()| stdout.flush()).is_err() {
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
