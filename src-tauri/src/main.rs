//! Cohort's desktop app: a thin Tauri 2 shell over `cohort-api`.
//!
//! It opens the data dir ([`shell`]), serves the UI one command, `call(cmd, args)`, that
//! forwards to `Api::call` (plus `startup`, where the page reports how long the launch took,
//! see [`startup`]), turns the core's change events into `cohort://change` events
//! ([`events`]), and adds what a desktop app needs: a native menu ([`menu`]), remembered
//! window size and position, and `cohort://join/<ticket>` links ([`deep_link`]) that reach
//! the running instance (one instance per data dir).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod deep_link;
mod events;
mod menu;
mod options;
mod shell;
mod startup;
mod sync;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use cohort_api::{Api, ApiError, ApiResult, ErrorCode};
use serde_json::Value;
use tauri::{AppHandle, Emitter, Manager, Runtime, State, WebviewWindowBuilder};
use tauri_plugin_deep_link::DeepLinkExt;
use tauri_plugin_dialog::{DialogExt, MessageDialogButtons, MessageDialogKind};

use crate::deep_link::Pending;
use crate::options::{DATA_DIR_ENV, Exit, Options};
use crate::shell::{FirstRun, Opened, Opening, Shell};

/// The label of the one window (as in tauri.conf.json and the capability).
pub(crate) const MAIN_WINDOW: &str = "main";
/// Exit status when the data dir cannot be opened (the `cohort` CLI's code for the same).
const EXIT_DATA_DIR: i32 = 5;
/// Exit status for a malformed command line.
const EXIT_USAGE: u8 = 2;

/// The one command: runs `cmd` with `args` in the core (see the bridge contract), once the
/// data dir is open; then hands the UI any deep link that waited for it to be listening.
#[tauri::command]
async fn call<R: Runtime>(
    app: AppHandle<R>,
    opening: State<'_, Opening>,
    links: State<'_, Pending>,
    cmd: String,
    args: Value,
) -> ApiResult<Value> {
    let result = opening.shell().await?.call(cmd, args).await;
    for link in links.ready() {
        emit_deep_link(&app, &link);
    }
    result
}

fn emit_deep_link<R: Runtime>(app: &AppHandle<R>, link: &deep_link::DeepLink) {
    if let Err(e) = app.emit_to(MAIN_WINDOW, deep_link::EVENT, link) {
        tracing::warn!("cannot send a deep link to the UI: {e}");
    }
}

/// Validates a `cohort://` URL from outside and delivers it (now, or once the UI listens).
fn open_url<R: Runtime>(app: &AppHandle<R>, url: &str) {
    match deep_link::parse(url) {
        Ok(link) => {
            if let Some(links) = app.try_state::<Pending>()
                && let Some(link) = links.offer(link)
            {
                emit_deep_link(app, &link);
            }
            focus_main_window(app);
        }
        Err(e) => {
            tracing::warn!("ignored a link: {e}");
            app.dialog()
                .message(format!("Cohort cannot open this link: {e}."))
                .title("Cohort")
                .kind(MessageDialogKind::Warning)
                .show(|_| {});
        }
    }
}

fn focus_main_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// What a person is told when the data dir cannot be opened.
fn open_error_message(dir: &Path, error: &ApiError) -> String {
    match error.code {
        ErrorCode::DataDirLocked => format!(
            "Another Cohort program is using your data in {}.\n\nClose it (or stop \
             `cohort serve`) and start Cohort again.",
            dir.display()
        ),
        _ => format!(
            "Cohort cannot open your data in {}:\n\n{}",
            dir.display(),
            error.message
        ),
    }
}

/// Hides the window, shows an error dialog, then exits with `code`.
fn fail<R: Runtime>(app: &AppHandle<R>, message: String, code: i32) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        let _ = window.hide();
    }
    tracing::error!("{message}");
    let handle = app.clone();
    app.dialog()
        .message(message)
        .title("Cohort")
        .kind(MessageDialogKind::Error)
        .buttons(MessageDialogButtons::OkCustom("Quit".to_owned()))
        .show(move |_| handle.exit(code));
}

/// Builds the window at once, then opens the data dir on a thread of its own: the page's
/// web process starts (a few hundred milliseconds) while the data dir opens, and the page's
/// first commands wait for the data dir ([`Opening`]).
fn setup<R: Runtime>(
    app: &AppHandle<R>,
    data_dir: Option<PathBuf>,
    options: &Options,
) -> Result<(), Box<dyn std::error::Error>> {
    startup::phase("setup");
    let Some(dir) = data_dir else {
        let message = format!(
            "Cohort cannot find a folder for your data on this system. Start it with \
             --data-dir PATH or set {DATA_DIR_ENV}."
        );
        fail(app, message, EXIT_DATA_DIR);
        return Ok(());
    };
    let (opened, opening) = shell::opening();
    app.manage(opening);
    app.manage(Pending::default());
    let slot = Arc::new(sync::NodeSlot::default());
    app.manage(Arc::clone(&slot));

    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN_WINDOW)
        .ok_or("tauri.conf.json has no main window")?
        .clone();
    let window = WebviewWindowBuilder::from_config(app, &config)?.build()?;
    if !options.gpu_compositing {
        paint_without_compositing(&window);
    }
    startup::phase("window created");

    let handle = app.clone();
    let options = options.clone();
    std::thread::Builder::new()
        .name("open data dir".to_owned())
        .spawn(move || {
            let outcome = open_data_dir(&handle, &dir, &options, slot);
            if let Err(e) = &outcome {
                let (app, message) = (handle.clone(), open_error_message(&dir, e));
                let shown = handle.run_on_main_thread(move || fail(&app, message, EXIT_DATA_DIR));
                if let Err(e) = shown {
                    tracing::error!("cannot show why the data dir did not open: {e}");
                    handle.exit(EXIT_DATA_DIR);
                }
            }
            opened.send_replace(Some(outcome));
        })?;

    let handle = app.clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            open_url(&handle, url.as_str());
        }
    });
    // A link that started the app arrived before the listener above.
    if let Some(urls) = app.deep_link().get_current()? {
        for url in urls {
            open_url(app, url.as_str());
        }
    }
    Ok(())
}

/// Opens (creating on first launch) the data dir, then starts what runs over it: the pump
/// of change events to the page and, unless offline, the sync node.
fn open_data_dir<R: Runtime>(
    app: &AppHandle<R>,
    dir: &Path,
    options: &Options,
    slot: Arc<sync::NodeSlot>,
) -> Opened {
    let (shell, first_run) = Shell::open(dir, !options.no_sample)?;
    if first_run == FirstRun::SampleCreated {
        tracing::info!("first launch: created the sample course");
    }
    tracing::info!("data dir: {}", shell.root().display());
    startup::phase("data dir open");

    let changes = shell.subscribe()?;
    let handle = app.clone();
    tauri::async_runtime::spawn(events::pump(changes, events::WINDOW, move |change| {
        if let Err(e) = handle.emit_to(MAIN_WINDOW, events::EVENT, change) {
            tracing::warn!("cannot send a change event to the UI: {e}");
        }
    }));

    if options.offline {
        tracing::info!("offline: sync is off for this launch");
    } else {
        let handle = app.clone();
        let config = sync::config(!options.no_mdns);
        let api = shell.api();
        tauri::async_runtime::spawn(async move {
            let emit = move |notice: &cohort_api::SyncNotice| {
                if let Err(e) = handle.emit_to(MAIN_WINDOW, sync::EVENT, notice) {
                    tracing::warn!("cannot send a sync notice to the UI: {e}");
                }
            };
            if let Err(e) = sync::start(api, config, slot, emit).await {
                // The app stays useful offline; the sync panel shows no peers.
                tracing::error!("sync cannot start: {}", e.message);
            }
        });
    }
    Ok(Arc::new(shell))
}

/// Has the web view paint the page without accelerated compositing (Linux).
///
/// WebKitGTK composites every page with OpenGL by default. Cohort's pages are text, lists
/// and forms with no 3D transforms, video or WebGL, which WebKitGTK painted without
/// compositing for years (its former on-demand policy); composited, each scrolling area
/// and layer holds GL textures, and without a GPU (a virtual machine, a remote session)
/// Mesa renders them in software. Measured here the app and its WebKit processes held
/// ~65 MiB more idle (`tests/desktop/bench.sh`, docs/benchmarks.md). `--gpu-compositing`
/// keeps WebKitGTK's default. Other platforms' web views decide for themselves.
///
/// The setting is applied on the main loop right after the window is built, before the
/// web process that renders the page has started. One known cost: WebKitWebDriver's
/// screenshot command never answers without compositing (WebKitGTK 2.50), so the desktop
/// end-to-end tests read their screenshots from the display (`tests/desktop/xshot.py`).
fn paint_without_compositing<R: Runtime>(window: &tauri::WebviewWindow<R>) {
    #[cfg(target_os = "linux")]
    {
        let set = window.with_webview(|webview| {
            use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
            match webview.inner().settings() {
                Some(settings) => {
                    settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never)
                }
                None => tracing::warn!("the web view has no settings; compositing stays on"),
            }
        });
        if let Err(e) = set {
            tracing::warn!("could not turn off compositing: {e}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}

/// A D-Bus-safe name for "the instance that has this data dir open": a second launch on
/// the same data dir hands its arguments (a deep link) to the first; a launch on another
/// data dir runs beside it. FNV-1a, so the name is the same for every build.
fn instance_id(identifier: &str, data_dir: Option<&Path>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let path = data_dir.map(|d| d.as_os_str().as_encoded_bytes().to_vec());
    for byte in path.unwrap_or_default() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{identifier}.d{hash:016x}")
}

/// The data dir to open: the option, else the platform default, made absolute so the
/// single-instance name does not depend on the working directory.
fn resolve_data_dir(option: Option<PathBuf>) -> Option<PathBuf> {
    let dir = option.or_else(Api::default_data_dir)?;
    Some(std::path::absolute(&dir).unwrap_or(dir))
}

/// The compiled-in Tauri context: config, embedded UI, icons and capabilities.
#[allow(
    clippy::disallowed_methods,
    reason = "the code tauri generates here calls std::process::exit; the shell itself returns an ExitCode"
)]
fn context() -> tauri::Context<tauri::Wry> {
    tauri::generate_context!()
}

fn main() -> ExitCode {
    startup::note_launch();
    let options = match Options::parse(std::env::args_os().skip(1), std::env::var_os(DATA_DIR_ENV))
    {
        Ok(options) => options,
        Err(Exit::Help) => {
            print!("{}", options::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(Exit::Version) => {
            println!("cohort-desktop {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(Exit::Usage(message)) => {
            eprintln!("cohort-desktop: {message}\n\n{}", options::USAGE);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("COHORT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,cohort_desktop=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    startup::phase("main");

    let data_dir = resolve_data_dir(options.data_dir.clone());
    let context = context();
    let instance = instance_id(&context.config().identifier, data_dir.as_deref());
    let app = tauri::Builder::default()
        // First: a second launch on the same data dir stops here and forwards its arguments.
        .plugin(
            tauri_plugin_single_instance::Builder::new()
                .dbus_id(instance)
                .callback(|app, _argv, _cwd| focus_main_window(app))
                .build(),
        )
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_dialog::init())
        .menu(menu::build)
        .on_menu_event(menu::handle)
        .invoke_handler(tauri::generate_handler![call, startup::startup])
        .setup(move |app| setup(app.handle(), data_dir, &options))
        .build(context);
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("cohort-desktop: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = app.run_return(|app, event| {
        if let tauri::RunEvent::Exit = event
            && let Some(slot) = app.try_state::<Arc<sync::NodeSlot>>()
        {
            slot.stop();
        }
    });
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_are_stable_and_per_data_dir() {
        let a = instance_id("org.cohort.desktop", Some(Path::new("/home/a/cohort")));
        let b = instance_id("org.cohort.desktop", Some(Path::new("/home/b/cohort")));
        assert_ne!(a, b);
        assert_eq!(
            a,
            instance_id("org.cohort.desktop", Some(Path::new("/home/a/cohort")))
        );
        // FNV-1a of the empty input is its offset basis: the name does not change by build.
        assert_eq!(instance_id("x", None), "x.dcbf29ce484222325");
        // D-Bus name elements: letters, digits, `_` and `-`, not starting with a digit.
        let last = a.rsplit('.').next().expect("has elements");
        assert!(last.starts_with('d') && last.len() == 17);
        assert!(last.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn the_locked_message_says_what_to_do() {
        let error = ApiError {
            code: ErrorCode::DataDirLocked,
            message: "locked".to_owned(),
        };
        let text = open_error_message(Path::new("/data"), &error);
        assert!(text.contains("Another Cohort program is using your data in /data"));
        let other = ApiError {
            code: ErrorCode::ReadOnly,
            message: "the disk is read-only".to_owned(),
        };
        assert!(open_error_message(Path::new("/data"), &other).contains("the disk is read-only"));
    }

    #[test]
    fn relative_data_dirs_are_made_absolute() {
        let dir = resolve_data_dir(Some(PathBuf::from("some/dir"))).expect("a dir");
        assert!(dir.is_absolute());
        assert!(dir.ends_with("some/dir"));
    }
}
