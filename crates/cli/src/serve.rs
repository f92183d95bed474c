//! `cohort serve`, and running a node for one command (`join`, `sync now`) when none runs.
//!
//! A serving process holds the data dir's lock, so other `cohort` commands on the same data
//! dir cannot open it; they forward themselves instead: `serve` writes `serve.json` (its
//! loopback API address and access token, readable by the owner only) into the data dir,
//! and a command that finds the data dir locked sends its arguments there (`cli` command)
//! and prints what the node answers.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use cohort_api::IdSource;
use cohort_api::{
    Api, ApiError, ApiResult, ErrorCode, EventMessage, Node, NodeConfig, RandomIds, SpaceId,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::args::{Cli, Command, ServeArgs};
use crate::http::{Handler, HttpConfig, serve_http};

/// The file a serving process leaves in its data dir.
pub const SERVE_FILE: &str = "serve.json";

/// What `serve.json` holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct ServeInfo {
    /// The API's base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    /// The bearer token.
    pub token: String,
    /// The serving process.
    pub pid: u32,
    /// This device's id.
    pub device: String,
}

fn io_err(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError {
        code: ErrorCode::Internal,
        message: format!("{what}: {e}"),
    }
}

fn runtime() -> ApiResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| io_err("cannot start the async runtime", e))
}

fn node_config(args: &ServeArgs) -> ApiResult<NodeConfig> {
    let mut config = NodeConfig::default();
    let parse = |a: &String| {
        a.parse().map_err(|e| {
            ApiError::invalid(format!(
                "{a:?} is not a multiaddr (e.g. /ip4/0.0.0.0/tcp/4001): {e}"
            ))
        })
    };
    if !args.listen.is_empty() {
        config.listen = args.listen.iter().map(parse).collect::<ApiResult<_>>()?;
    }
    config.peers = args.peers.iter().map(parse).collect::<ApiResult<_>>()?;
    config.mdns = !args.no_mdns;
    config.relay_server = args.relay;
    Ok(config)
}

fn random_token() -> String {
    let mut ids = RandomIds;
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(&ids.next_id());
    bytes.extend_from_slice(&ids.next_id());
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The built web UI: `--ui`, or `ui/dist` of the source tree this binary was built from.
fn ui_dir(args: &ServeArgs) -> Option<PathBuf> {
    if let Some(dir) = &args.ui {
        return Some(dir.clone());
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/dist");
    built.join("index.html").is_file().then_some(built)
}

/// Runs one forwarded command line against the shared API.
fn run_forwarded(api: &Mutex<Api>, args: Value) -> ApiResult<Value> {
    #[derive(Deserialize)]
    struct Forwarded {
        argv: Vec<String>,
        json: bool,
    }
    let f: Forwarded = serde_json::from_value(args)
        .map_err(|e| ApiError::invalid(format!("bad forwarded command: {e}")))?;
    let cli = Cli::try_parse_from(std::iter::once("cohort".to_owned()).chain(f.argv))
        .map_err(|e| ApiError::invalid(e.render().to_string()))?;
    match cli.command {
        Command::Serve(_) => Err(ApiError {
            code: ErrorCode::DataDirLocked,
            message: "a node is already serving this data dir".into(),
        }),
        Command::Batch | Command::Init { .. } => Err(ApiError::invalid(
            "init and batch cannot run while a node serves this data dir",
        )),
        command => {
            let mut out = Vec::new();
            let mut api = api.lock().unwrap_or_else(|p| p.into_inner());
            crate::run::run(&mut api, command, f.json, &mut out)?;
            Ok(json!({ "out": String::from_utf8_lossy(&out) }))
        }
    }
}

/// `cohort serve`: runs until SIGINT or SIGTERM.
pub fn serve(root: &Path, api: Api, args: ServeArgs) -> ExitCode {
    match runtime().and_then(|rt| rt.block_on(serve_async(root, api, args))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(1)
        }
    }
}

async fn serve_async(root: &Path, api: Api, args: ServeArgs) -> ApiResult<()> {
    let config = node_config(&args)?;
    let http_addr = args.http.clone().unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&http_addr)
        .await
        .map_err(|e| ApiError::invalid(format!("cannot listen on {http_addr}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| io_err("web listener", e))?;
    let mut changes = api.subscribe();
    let host = Arc::new(Mutex::new(api));
    let node = Node::start(host.clone(), config).await?;
    let device = host
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .me()
        .map(|m| m.device)?;

    // Everything the web UI hears: document changes and sync notices.
    let (events, _) = broadcast::channel::<Value>(1024);
    let change_tx = events.clone();
    tokio::spawn(async move {
        loop {
            match changes.recv().await {
                Ok(change) => {
                    let _ = change_tx.send(EventMessage::Change(change).to_json());
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let _ = change_tx.send(EventMessage::Lagged.to_json());
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    let mut notices = node.subscribe();
    let notice_tx = events.clone();
    tokio::spawn(async move {
        loop {
            match notices.recv().await {
                Ok(n) => {
                    let _ = notice_tx.send(EventMessage::Sync(n).to_json());
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });

    let token = std::env::var("COHORT_HTTP_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(random_token);
    let shared = host.clone();
    let handler: Handler = Arc::new(move |cmd: String, args: Value| {
        if cmd == "cli" {
            return run_forwarded(&shared, args);
        }
        shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .call(&cmd, args)
    });
    let info = ServeInfo {
        url: format!("http://{local}"),
        token: token.clone(),
        pid: std::process::id(),
        device: device.clone(),
    };
    write_serve_file(root, &info)?;

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(serve_http(
        HttpConfig {
            listener,
            token: token.clone(),
            ui_dir: ui_dir(&args),
        },
        handler,
        events,
        async move {
            let _ = stop_rx.await;
        },
    ));

    let addrs = node.addresses();
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "Cohort node serving {}", root.display());
    let _ = writeln!(stdout, "  device  {device}");
    for a in &addrs {
        let _ = writeln!(stdout, "  listen  {a}");
    }
    if args.http.is_some() {
        let _ = writeln!(stdout, "  web UI  http://{local}/?token={token}");
    }
    let _ = writeln!(stdout, "Stop with Ctrl-C.");
    let _ = stdout.flush();
    drop(stdout);

    wait_for_signal().await;
    tracing::info!("stopping");
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), http).await;
    let result = node.shutdown().await;
    let _ = std::fs::remove_file(root.join(SERVE_FILE));
    // Every edit was committed when it was acknowledged; nothing else to flush.
    drop(host);
    println!("Stopped.");
    result.map_err(ApiError::from)
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn write_serve_file(root: &Path, info: &ServeInfo) -> ApiResult<()> {
    let bytes = serde_json::to_vec_pretty(info).map_err(|e| io_err("serve.json", e))?;
    let tmp = root.join(format!("{SERVE_FILE}.tmp"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io_err("cannot write serve.json", e))?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_err("cannot write serve.json", e))?;
    std::fs::rename(&tmp, root.join(SERVE_FILE)).map_err(|e| io_err("cannot write serve.json", e))
}

/// Sends a command line to the node serving `root`, if one does. `None` when no node
/// answers (no `serve.json`, or a stale one).
pub fn forward(root: &Path, argv: &[String], json: bool) -> Option<ApiResult<String>> {
    let bytes = std::fs::read(root.join(SERVE_FILE)).ok()?;
    let info: ServeInfo = serde_json::from_slice(&bytes).ok()?;
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(120)))
            .http_status_as_error(false)
            .build(),
    );
    let response = agent
        .post(format!("{}/api/call/cli", info.url))
        .header("Authorization", &format!("Bearer {}", info.token))
        .send_json(json!({ "argv": argv, "json": json }));
    let mut response = match response {
        Ok(r) => r,
        // Nobody listens: a node that was killed left its file behind.
        Err(_) => return None,
    };
    let status = response.status();
    let body: Value = match response.body_mut().read_json() {
        Ok(v) => v,
        Err(e) => return Some(Err(io_err("the running node answered badly", e))),
    };
    if status.is_success() {
        Some(Ok(body["out"].as_str().unwrap_or_default().to_owned()))
    } else {
        Some(Err(serde_json::from_value::<ApiError>(body.clone())
            .unwrap_or(ApiError {
                code: ErrorCode::Internal,
                message: format!("the running node answered {status}: {body}"),
            })))
    }
}

/// Runs a node for one command until `done` says so or `wait` passes; returns whether
/// `done` was reached.
pub fn with_temporary_node(
    api: Api,
    wait: Duration,
    start: impl FnOnce(&mut Api) -> ApiResult<()>,
    done: impl Fn(&mut Api) -> bool,
) -> ApiResult<(Api, bool)> {
    let rt = runtime()?;
    rt.block_on(async move {
        let host = Arc::new(Mutex::new(api));
        let config = NodeConfig::default();
        let node = Node::start(host.clone(), config).await?;
        start(&mut host.lock().unwrap_or_else(|p| p.into_inner()))?;
        let _ = node.sync_now().await;
        let deadline = tokio::time::Instant::now() + wait;
        let mut reached = false;
        // In sync for a moment, not just for one tick.
        let mut quiet = 0;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let ok = done(&mut host.lock().unwrap_or_else(|p| p.into_inner()));
            quiet = if ok { quiet + 1 } else { 0 };
            if quiet >= 3 {
                reached = true;
                break;
            }
        }
        node.shutdown().await?;
        let api = Arc::try_unwrap(host)
            .map_err(|_| io_err("node", "still in use after shutdown"))?
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
        Ok((api, reached))
    })
}

/// Whether every cohort's active sessions have nothing in flight, nothing received waits to
/// be indexed, and at least one peer synced `space` (or any space when `None`).
pub fn settled(api: &mut Api, space: Option<SpaceId>) -> bool {
    let Ok(status) = api.sync_status() else {
        return false;
    };
    tracing::debug!(?status, "waiting for sync");
    let busy = status.iter().any(|s| s.pending > 0 || s.indexing > 0);
    let synced = status
        .iter()
        .any(|s| s.peers > 0 && s.last_sync.is_some() && space.is_none_or(|w| s.space == w));
    !busy && synced
}
