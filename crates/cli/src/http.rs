//! The web mode's server: the command bridge over HTTP, change events over a WebSocket, and
//! the built UI as static files, all on one loopback address.
//!
//! Routes:
//!
//! | route | auth | what |
//! |---|---|---|
//! | `POST /api/call/{cmd}` | `Authorization: Bearer T` | runs `cmd` with the JSON body as its args (an empty body is `{}`); 200 + result JSON, or an error status + `{code, message}` |
//! | `GET /api/events?token=T` | `token` query parameter | WebSocket: every message of the event channel as a text frame; `{"event":"lagged"}` when this client fell behind (it stays connected); closed (1001) on shutdown |
//! | `GET /api/health` | none | `{"status":"ok"}` |
//! | any other `/api/...` | — | 404 `{code, message}` |
//! | anything else | none | a file of the UI dir, or its `index.html` for any other path (single-page app routing) |
//!
//! Error statuses follow the error code: 400 invalid input (including an unknown command or
//! bad arguments) or invalid edit/document, 404 not found, 401 missing or wrong token, 409
//! data dir locked or database busy, 413 a body over [`MAX_BODY_BYTES`], 403 a refused
//! host, 500 anything else. The 401, 403 and 413 bodies carry `invalid_input` (the closed
//! error set has no code of their own); clients branch on the status for those.
//!
//! **Host and Origin rule** (against DNS rebinding and cross-site requests): the server
//! only listens on a loopback address, and every request, static files included, must name
//! that address in its `Host` header: `127.0.0.1:PORT` (the exact IPv4 address listened
//! on) or `[::1]:PORT` for IPv6, or `localhost:PORT`, where PORT is the listening port (and
//! may be left out only when it is 80). A request carrying an `Origin` header must come
//! from `http://` + one of those hosts. Requests without `Origin` (non-browser clients,
//! same-origin `GET`s) pass. Everything else gets 403. The token is compared in constant
//! time, and every response says `Referrer-Policy: no-referrer` so the `?token=` of the
//! page URL never leaks in a `Referer` header.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use cohort_api::{ApiError, ErrorCode, EventMessage};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tokio::sync::{broadcast, mpsc, watch};
use tower_http::services::{ServeDir, ServeFile};

/// The largest request body accepted (a command's JSON arguments, e.g. an attachment as
/// base64).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// How long a closing WebSocket may take to accept its close frame at shutdown.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A WebSocket client that does not take a message within this time is disconnected (so a
/// stalled client cannot hold up shutdown or pin the server's memory).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to serve.
#[derive(Debug)]
pub struct HttpConfig {
    /// A listener bound to a loopback address (`127.0.0.1:PORT`, port 0 for any); anything
    /// else is refused.
    pub listener: tokio::net::TcpListener,
    /// The secret every API request must carry; must not be empty.
    pub token: String,
    /// The built UI (`ui/dist`), or `None` to serve the API only.
    pub ui_dir: Option<PathBuf>,
}

/// Runs one command: `(cmd, args) -> result`. Typically a closure over a shared
/// `cohort_api::Api` (`Api::call`) or a service that adds sync commands. It may block (it
/// runs SQLite transactions): the server calls it on tokio's blocking pool.
pub type Handler = Arc<dyn Fn(String, Value) -> Result<Value, ApiError> + Send + Sync>;

#[derive(Clone)]
struct AppState {
    handler: Handler,
    token: Arc<str>,
    events: broadcast::Sender<Value>,
    allowed_hosts: Arc<[String]>,
    stop: watch::Receiver<bool>,
    /// Held by every WebSocket task, so shutdown can wait for them to close.
    sockets: mpsc::Sender<()>,
}

/// Serves the web mode on `config.listener` until `shutdown` completes, then stops taking
/// connections, closes every WebSocket (close code 1001), waits for requests in flight and
/// returns.
///
/// `events` is the channel whose messages every WebSocket client receives, each already in
/// its wire shape (see [`EventMessage`]: `{"event":"change","data":...}`); a client that
/// lags gets `{"event":"lagged"}` and continues with the newest messages.
///
/// Fails at once if the listener is not on a loopback address or the token is empty.
pub async fn serve_http(
    config: HttpConfig,
    handler: Handler,
    events: broadcast::Sender<Value>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = config.listener.local_addr()?;
    if !addr.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("the web mode only listens on a loopback address, not {addr}"),
        ));
    }
    if config.token.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the web mode needs a non-empty access token",
        ));
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let (sockets_tx, mut sockets_rx) = mpsc::channel(1);
    let state = AppState {
        handler,
        token: config.token.into(),
        events,
        allowed_hosts: allowed_hosts(addr).into(),
        stop: stop_rx,
        sockets: sockets_tx,
    };
    let app = router(state, config.ui_dir);
    axum::serve(config.listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Tells every WebSocket task to close; the receivers live in the router state.
            let _ = stop_tx.send(true);
        })
        .await?;
    // The router (and its sender) is gone; each WebSocket task still holds one until it
    // has closed its socket.
    let _ = sockets_rx.recv().await;
    Ok(())
}

fn router(state: AppState, ui_dir: Option<PathBuf>) -> Router {
    let call = post(call_command).route_layer(middleware::from_fn_with_state(
        state.clone(),
        require_bearer,
    ));
    let app = Router::new()
        .route("/api/call/{cmd}", call)
        .route("/api/events", get(events))
        .route("/api/health", get(health))
        .route("/api", any(api_not_found))
        .route("/api/{*rest}", any(api_not_found))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    let app = match ui_dir {
        Some(dir) => {
            let index = ServeFile::new(dir.join("index.html"));
            app.fallback_service(ServeDir::new(dir).fallback(index))
        }
        None => app.fallback(no_ui),
    };
    app.layer(middleware::from_fn_with_state(state.clone(), guard_host))
        .with_state(state)
}

/// The `Host` values that name this server: its own loopback address or `localhost`, with
/// its port (which browsers leave out only for port 80).
fn allowed_hosts(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    let ip = match addr {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    };
    let mut hosts = Vec::new();
    for name in [ip, "localhost".to_owned()] {
        hosts.push(format!("{name}:{port}"));
        if port == 80 {
            hosts.push(name);
        }
    }
    hosts
}

fn error_response(status: StatusCode, error: &ApiError) -> Response {
    let mut response = (status, axum::Json(error)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    error_response(status, &ApiError::invalid(message))
}

/// The HTTP status of an error code.
fn status_for(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidInput
        | ErrorCode::InvalidEdit
        | ErrorCode::AmbiguousId
        | ErrorCode::InvalidDocument => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::DataDirLocked | ErrorCode::Busy => StatusCode::CONFLICT,
        ErrorCode::DataDirUnusable
        | ErrorCode::ReadOnly
        | ErrorCode::DiskFull
        | ErrorCode::CorruptDatabase
        | ErrorCode::ForeignDatabase
        | ErrorCode::NewerVersion
        | ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Refuses requests whose `Host` or `Origin` is not this server (see the module docs), and
/// marks every response `Referrer-Policy: no-referrer`.
async fn guard_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host_ok = header_str(headers, header::HOST).is_some_and(|host| {
        state
            .allowed_hosts
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(host))
    });
    let origin_ok = match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => origin.to_str().ok().is_some_and(|origin| {
            origin.strip_prefix("http://").is_some_and(|host| {
                state
                    .allowed_hosts
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(host))
            })
        }),
    };
    let mut response = if !host_ok {
        refuse(
            StatusCode::FORBIDDEN,
            "this server only answers requests addressed to its own loopback address",
        )
    } else if !origin_ok {
        refuse(
            StatusCode::FORBIDDEN,
            "requests from other origins are refused",
        )
    } else {
        next.run(request).await
    };
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn token_matches(given: &str, expected: &str) -> bool {
    bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// Checks `Authorization: Bearer <token>` before the body is read.
async fn require_bearer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let given = header_str(request.headers(), header::AUTHORIZATION).and_then(|value| {
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    match given {
        Some(token) if token_matches(token, &state.token) => next.run(request).await,
        Some(_) => refuse(StatusCode::UNAUTHORIZED, "wrong access token"),
        None => refuse(
            StatusCode::UNAUTHORIZED,
            "missing access token (send `Authorization: Bearer <token>`)",
        ),
    }
}

async fn call_command(
    State(state): State<AppState>,
    Path(cmd): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!("the request body is larger than {MAX_BODY_BYTES} bytes")
            } else {
                rejection.body_text()
            };
            return refuse(status, message);
        }
    };
    let args = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(args) => args,
            Err(e) => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    format!("the body of `{cmd}` is not JSON: {e}"),
                );
            }
        }
    };
    let handler = state.handler.clone();
    let label = cmd.chars().take(64).collect::<String>();
    match tokio::task::spawn_blocking(move || handler(cmd, args)).await {
        Ok(Ok(result)) => {
            let mut response = axum::Json(result).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Ok(Err(error)) => error_response(status_for(error.code), &error),
        Err(e) => {
            tracing::error!(command = %label, "command failed: {e}");
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &ApiError {
                    code: ErrorCode::Internal,
                    message: format!("`{label}` failed unexpectedly"),
                },
            )
        }
    }
}

async fn events(
    State(state): State<AppState>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    match query.get("token") {
        Some(token) if token_matches(token, &state.token) => {}
        Some(_) => return refuse(StatusCode::UNAUTHORIZED, "wrong access token"),
        None => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "missing access token (connect to /api/events?token=<token>)",
            );
        }
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return refuse(rejection.status(), rejection.body_text()),
    };
    // Subscribe before answering the handshake, so no event after it is missed.
    let receiver = state.events.subscribe();
    let stop = state.stop.clone();
    let guard = state.sockets.clone();
    upgrade.on_upgrade(move |socket| forward_events(socket, receiver, stop, guard))
}

async fn forward_events(
    mut socket: WebSocket,
    mut events: broadcast::Receiver<Value>,
    mut stop: watch::Receiver<bool>,
    _guard: mpsc::Sender<()>,
) {
    loop {
        tokio::select! {
            () = stopped(&mut stop) => {
                let frame = CloseFrame { code: 1001, reason: "server shutting down".into() };
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
                return;
            }
            event = events.recv() => {
                let text = match event {
                    Ok(value) => value.to_string(),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "a WebSocket client lagged");
                        EventMessage::Lagged.to_json().to_string()
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        let _ = socket.send(Message::Close(None)).await;
                        return;
                    }
                };
                let sent = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await;
                if !matches!(sent, Ok(Ok(()))) {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                // Pings are answered by the WebSocket layer; other client messages mean nothing.
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// Completes once shutdown is signalled (or the signal's sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across the caller's awaits.
    let _ = stop.wait_for(|stopped| *stopped).await.map(|_| ());
}

async fn health() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

async fn api_not_found(request: Request) -> Response {
    let path: String = request.uri().path().chars().take(128).collect();
    error_response(
        StatusCode::NOT_FOUND,
        &ApiError {
            code: ErrorCode::NotFound,
            message: format!("no API route {path}"),
        },
    )
}

async fn no_ui() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        &ApiError {
            code: ErrorCode::NotFound,
            message: "this server has no UI files to serve".into(),
        },
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use cohort_api::{Api, OpenOptions};
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite;

    use super::*;

    const TOKEN: &str = "s3cret-token";

    struct Server {
        base: String,
        addr: SocketAddr,
        events: broadcast::Sender<Value>,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        task: tokio::task::JoinHandle<std::io::Result<()>>,
        _data: tempfile::TempDir,
        _ui: tempfile::TempDir,
    }

    impl Server {
        async fn start() -> Server {
            let data = tempfile::tempdir().expect("temp dir");
            let ui = tempfile::tempdir().expect("temp dir");
            std::fs::write(
                ui.path().join("index.html"),
                "<!doctype html><title>Cohort</title>",
            )
            .expect("write index");
            std::fs::create_dir(ui.path().join("assets")).expect("mkdir");
            std::fs::write(ui.path().join("assets/app.js"), "console.log(1)").expect("write js");
            let api = Api::open(data.path(), OpenOptions::default()).expect("open api");
            let api = Arc::new(Mutex::new(api));
            let handler: Handler = Arc::new(move |cmd, args| {
                let mut api = api.lock().map_err(|_| ApiError {
                    code: ErrorCode::Internal,
                    message: "poisoned".into(),
                })?;
                api.call(&cmd, args)
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            let (events, _) = broadcast::channel(4);
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let config = HttpConfig {
                listener,
                token: TOKEN.into(),
                ui_dir: Some(ui.path().to_path_buf()),
            };
            let task = tokio::spawn(serve_http(config, handler, events.clone(), async move {
                let _ = stopped.await;
            }));
            Server {
                base: format!("http://{addr}"),
                addr,
                events,
                stop: Some(stop),
                task,
                _data: data,
                _ui: ui,
            }
        }

        async fn call(&self, cmd: &str, args: Value) -> (StatusCode, Value) {
            let response = reqwest::Client::new()
                .post(format!("{}/api/call/{cmd}", self.base))
                .bearer_auth(TOKEN)
                .json(&args)
                .send()
                .await
                .expect("send");
            let status = response.status();
            (status, response.json().await.expect("json body"))
        }

        async fn stop(mut self) {
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(());
            }
            let done = tokio::time::timeout(Duration::from_secs(10), self.task)
                .await
                .expect("server stops in time");
            done.expect("join").expect("serve");
        }

        fn ws_request(&self, token: &str) -> tungstenite::handshake::client::Request {
            use tungstenite::client::IntoClientRequest;
            format!("ws://{}/api/events?token={token}", self.addr)
                .into_client_request()
                .expect("request")
        }
    }

    #[tokio::test]
    async fn http_calls_run_commands_and_errors_carry_codes() {
        let server = Server::start().await;
        let (status, space) = server
            .call(
                "create_cohort",
                json!({"name": "Readers", "purpose": "Read"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{space}");
        let (status, course) = server
            .call(
                "create_course",
                json!({"space": space, "title": "Poems", "summary": ""}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{course}");
        let (status, view) = server.call("course", json!({"id": course})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(view["course"]["title"], "Poems");

        // An empty body is no arguments.
        let response = reqwest::Client::new()
            .post(format!("{}/api/call/me", server.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let me: Value = response.json().await.expect("json");
        assert!(me["person"].is_string(), "{me}");

        let (status, err) = server.call("frobnicate", json!({})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(err["code"], "invalid_input");
        assert!(
            err["message"]
                .as_str()
                .is_some_and(|m| m.contains("unknown command `frobnicate`"))
        );

        let (status, err) = server.call("course", json!({"id": "0".repeat(32)})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
        assert_eq!(err["code"], "not_found");

        let response = reqwest::Client::new()
            .post(format!("{}/api/call/me", server.base))
            .bearer_auth(TOKEN)
            .body("{not json")
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);

        let response = reqwest::Client::new()
            .post(format!("{}/api/call/attach", server.base))
            .bearer_auth(TOKEN)
            .body(vec![b' '; MAX_BODY_BYTES + 1])
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let err: Value = response.json().await.expect("json");
        assert_eq!(err["code"], "invalid_input");

        let response = reqwest::get(format!("{}/api/nothing", server.base))
            .await
            .expect("get");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let response = reqwest::get(format!("{}/api/health", server.base))
            .await
            .expect("get");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.json::<Value>().await.expect("json"),
            json!({"status": "ok"})
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn http_calls_without_the_right_token_are_refused() {
        let server = Server::start().await;
        let url = format!("{}/api/call/me", server.base);
        let client = reqwest::Client::new();
        for request in [
            client.post(&url),
            client.post(&url).bearer_auth("wrong"),
            client.post(&url).bearer_auth(format!("{TOKEN}x")),
            client.post(&url).header("authorization", TOKEN),
        ] {
            let response = request.json(&json!({})).send().await.expect("send");
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            let err: Value = response.json().await.expect("json");
            assert_eq!(err["code"], "invalid_input");
            assert!(err["message"].as_str().is_some_and(|m| m.contains("token")));
        }
        server.stop().await;
    }

    #[tokio::test]
    async fn http_events_reach_websocket_clients_until_shutdown() {
        let server = Server::start().await;
        for token in ["wrong", ""] {
            let refused = tokio_tungstenite::connect_async(server.ws_request(token)).await;
            match refused {
                Err(tungstenite::Error::Http(response)) => {
                    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
                }
                other => panic!("expected 401, got {other:?}"),
            }
        }
        let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_request(TOKEN))
            .await
            .expect("connect");
        let event = json!({"event": "change", "data": {"doc": "ab"}});
        server.events.send(event.clone()).expect("a subscriber");
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("an event in time")
            .expect("open")
            .expect("message");
        let text = message.into_text().expect("text");
        assert_eq!(serde_json::from_str::<Value>(&text).expect("json"), event);

        // A client that falls behind the channel (capacity 4) is told so and keeps going.
        for n in 0..10 {
            server.events.send(json!({"n": n})).expect("a subscriber");
        }
        let mut seen = Vec::new();
        while seen.last() != Some(&json!({"n": 9})) {
            let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .expect("a message in time")
                .expect("open")
                .expect("message");
            seen.push(
                serde_json::from_str::<Value>(&message.into_text().expect("text")).expect("json"),
            );
        }
        assert_eq!(seen[0], json!({"event": "lagged"}), "{seen:?}");
        ws.send(tungstenite::Message::Ping(vec![1].into()))
            .await
            .expect("ping");

        let Server { task, stop, .. } = server;
        let _ = stop.map(|stop| stop.send(()));
        let close = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match ws.next().await {
                    Some(Ok(tungstenite::Message::Close(frame))) => return frame,
                    Some(Ok(_)) => {}
                    other => panic!("expected a close frame, got {other:?}"),
                }
            }
        })
        .await
        .expect("closed in time");
        assert_eq!(close.map(|f| u16::from(f.code)), Some(1001));
        drop(ws);
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("server stops in time")
            .expect("join")
            .expect("serve");
    }

    #[tokio::test]
    async fn http_serves_ui_files_with_spa_fallback() {
        let server = Server::start().await;
        let index = reqwest::get(format!("{}/", server.base))
            .await
            .expect("get");
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(index.headers()["referrer-policy"], "no-referrer");
        assert!(
            index
                .text()
                .await
                .expect("text")
                .contains("<title>Cohort</title>")
        );
        let js = reqwest::get(format!("{}/assets/app.js", server.base))
            .await
            .expect("get");
        assert_eq!(js.status(), StatusCode::OK);
        assert_eq!(js.text().await.expect("text"), "console.log(1)");
        let route = reqwest::get(format!("{}/courses/abc?token=x", server.base))
            .await
            .expect("get");
        assert_eq!(route.status(), StatusCode::OK);
        assert!(
            route
                .text()
                .await
                .expect("text")
                .contains("<title>Cohort</title>")
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn http_refuses_foreign_hosts_and_origins() {
        let server = Server::start().await;
        let port = server.addr.port();
        let client = reqwest::Client::new();
        let url = format!("{}/api/call/me", server.base);
        for (host, origin) in [
            (format!("evil.example:{port}"), None),
            (format!("127.0.0.1.evil.example:{port}"), None),
            (format!("127.0.0.1:{}", port.wrapping_add(1)), None),
            (
                format!("127.0.0.1:{port}"),
                Some("http://evil.example".to_owned()),
            ),
            (
                format!("127.0.0.1:{port}"),
                Some(format!("https://127.0.0.1:{port}")),
            ),
            (format!("127.0.0.1:{port}"), Some("null".to_owned())),
        ] {
            let mut request = client.post(&url).bearer_auth(TOKEN).header("host", &host);
            if let Some(origin) = &origin {
                request = request.header("origin", origin);
            }
            let response = request.json(&json!({})).send().await.expect("send");
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{host} {origin:?}"
            );
            let err: Value = response.json().await.expect("json");
            assert_eq!(err["code"], "invalid_input");
        }
        // Static files and the WebSocket are guarded too.
        let response = client
            .get(format!("{}/", server.base))
            .header("host", "evil.example")
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let mut request = server.ws_request(TOKEN);
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_static("http://evil.example"));
        match tokio_tungstenite::connect_async(request).await {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), StatusCode::FORBIDDEN);
            }
            other => panic!("expected 403, got {other:?}"),
        }
        // The server's own names pass, with an Origin of the same server.
        for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
            let response = client
                .post(&url)
                .bearer_auth(TOKEN)
                .header("host", &host)
                .header("origin", format!("http://{host}"))
                .send()
                .await
                .expect("send");
            assert_eq!(response.status(), StatusCode::OK, "{host}");
        }
        server.stop().await;
    }

    #[tokio::test]
    async fn http_refuses_an_empty_token() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let handler: Handler = Arc::new(|_, _| Ok(Value::Null));
        let (events, _) = broadcast::channel(1);
        let config = HttpConfig {
            listener,
            token: String::new(),
            ui_dir: None,
        };
        let err = serve_http(config, handler, events, async {})
            .await
            .expect_err("an empty token is refused");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(
            allowed_hosts("127.0.0.1:80".parse().expect("addr")),
            ["127.0.0.1:80", "127.0.0.1", "localhost:80", "localhost"]
        );
        assert_eq!(
            allowed_hosts("[::1]:8080".parse().expect("addr")),
            ["[::1]:8080", "localhost:8080"]
        );
    }
}
