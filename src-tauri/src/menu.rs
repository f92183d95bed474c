//! The native menu bar and what its items do.
//!
//! File: New journal entry (Ctrl+N) and Search (Ctrl+K) are the UI's to carry out: the
//! shell emits `cohort://menu` with `{ "action": "new_journal_entry" | "search" }`. Quit
//! (Ctrl+Q) exits. Edit holds the platform's predefined undo/redo/cut/copy/paste/select-all
//! items (on Linux, GTK has no predefined undo/redo: those two show disabled, and the page's
//! own Ctrl+Z / Ctrl+Shift+Z keep working). View: Reload (Ctrl+R), and in debug builds
//! Toggle developer tools (Ctrl+Shift+I).

use serde::Serialize;
use tauri::menu::{
    Menu, MenuBuilder, MenuEvent, MenuItemBuilder, PredefinedMenuItem, SubmenuBuilder,
};
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::MAIN_WINDOW;

/// The event the UI receives for menu actions it carries out.
pub const EVENT: &str = "cohort://menu";

/// A menu item's id, and for the UI's actions the name it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// File > New journal entry: the UI opens a new journal entry.
    NewJournalEntry,
    /// File > Search: the UI opens search.
    Search,
    /// File > Quit.
    Quit,
    /// View > Reload.
    Reload,
    /// View > Toggle developer tools (debug builds).
    DevTools,
}

impl Action {
    const ALL: [Action; 5] = [
        Action::NewJournalEntry,
        Action::Search,
        Action::Quit,
        Action::Reload,
        Action::DevTools,
    ];

    /// The menu item id, also the action name sent to the UI.
    pub fn id(self) -> &'static str {
        match self {
            Action::NewJournalEntry => "new_journal_entry",
            Action::Search => "search",
            Action::Quit => "quit",
            Action::Reload => "reload",
            Action::DevTools => "toggle_devtools",
        }
    }

    /// The action of a menu item id.
    pub fn from_id(id: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.id() == id)
    }

    /// Whether the UI carries this action out (it is sent as a [`MenuAction`]).
    pub fn for_ui(self) -> bool {
        matches!(self, Action::NewJournalEntry | Action::Search)
    }
}

/// The payload of [`EVENT`]: `{ "action": "<name>" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MenuAction {
    /// The action's name ([`Action::id`]).
    pub action: &'static str,
}

/// Builds the menu bar.
pub fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Menu<R>> {
    let item = |action: Action, text: &str, accelerator: &str| {
        MenuItemBuilder::with_id(action.id(), text)
            .accelerator(accelerator)
            .build(app)
    };
    let file = SubmenuBuilder::new(app, "File")
        .item(&item(
            Action::NewJournalEntry,
            "New journal entry",
            "CmdOrCtrl+N",
        )?)
        .item(&item(Action::Search, "Search…", "CmdOrCtrl+K")?)
        .separator()
        .item(&item(Action::Quit, "Quit", "CmdOrCtrl+Q")?)
        .build()?;
    let edit = SubmenuBuilder::new(app, "Edit")
        .item(&PredefinedMenuItem::undo(app, None)?)
        .item(&PredefinedMenuItem::redo(app, None)?)
        .separator()
        .item(&PredefinedMenuItem::cut(app, None)?)
        .item(&PredefinedMenuItem::copy(app, None)?)
        .item(&PredefinedMenuItem::paste(app, None)?)
        .separator()
        .item(&PredefinedMenuItem::select_all(app, None)?)
        .build()?;
    let mut view =
        SubmenuBuilder::new(app, "View").item(&item(Action::Reload, "Reload", "CmdOrCtrl+R")?);
    if cfg!(debug_assertions) {
        view = view.item(&item(
            Action::DevTools,
            "Toggle developer tools",
            "CmdOrCtrl+Shift+I",
        )?);
    }
    let view = view.build()?;
    MenuBuilder::new(app).items(&[&file, &edit, &view]).build()
}

/// Carries out a menu event.
pub fn handle<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    let Some(action) = Action::from_id(event.id().as_ref()) else {
        return; // predefined items act by themselves
    };
    if action.for_ui() {
        let payload = MenuAction {
            action: action.id(),
        };
        if let Err(e) = app.emit_to(MAIN_WINDOW, EVENT, payload) {
            tracing::warn!("cannot send the menu action {} to the UI: {e}", action.id());
        }
        return;
    }
    match action {
        Action::Quit => app.exit(0),
        Action::Reload => {
            if let Some(window) = app.get_webview_window(MAIN_WINDOW)
                && let Err(e) = window.reload()
            {
                tracing::warn!("cannot reload the window: {e}");
            }
        }
        Action::DevTools => toggle_devtools(app),
        Action::NewJournalEntry | Action::Search => {}
    }
}

#[cfg(debug_assertions)]
fn toggle_devtools<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        if window.is_devtools_open() {
            window.close_devtools();
        } else {
            window.open_devtools();
        }
    }
}

#[cfg(not(debug_assertions))]
fn toggle_devtools<R: Runtime>(_app: &AppHandle<R>) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_only_ui_actions_go_to_the_ui() {
        for action in Action::ALL {
            assert_eq!(Action::from_id(action.id()), Some(action));
        }
        assert_eq!(Action::from_id("copy"), None);
        let ui: Vec<_> = Action::ALL
            .into_iter()
            .filter(|a| a.for_ui())
            .map(Action::id)
            .collect();
        assert_eq!(ui, ["new_journal_entry", "search"]);
    }

    #[test]
    fn the_payload_names_the_action() {
        let json = serde_json::to_value(MenuAction {
            action: Action::Search.id(),
        })
        .expect("serializes");
        assert_eq!(json, serde_json::json!({ "action": "search" }));
    }
}
