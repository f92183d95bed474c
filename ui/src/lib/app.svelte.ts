// Application state shared by every view: the backend, who you are, your spaces and roles, the
// current route, toasts. Views get it with `getApp()`.

import { getContext, setContext } from 'svelte';
import type { ChangeEvent, DocSummary, Me, Role, SpaceId, SpaceInfo } from './bindings';
import {
  isLagged,
  toBackendError,
  type Args,
  type Backend,
  type ChangeNotice,
  type Cmd,
  type MenuAction,
  type Result,
} from './backend';
import { LiveList, type LiveListSpec } from './lists';
import { parseRoute, routeHref, type Route } from './router';

/** A message shown briefly in the corner (errors stay until dismissed or replaced). */
export interface Toast {
  id: number;
  kind: 'error' | 'info';
  text: string;
  code?: string;
}

const KEY = Symbol('cohort-app');

/** The display name the core gives a profile nobody has named yet (`cohort init` without --name). */
export const DEFAULT_DISPLAY_NAME = 'Learner';
/** The cohort of the built-in sample course (the desktop app creates it on first launch). */
export const SAMPLE_COHORT_NAME = 'Getting started';

/** How long an answer asked for ahead waits for the view that needs it (see `askAhead`). */
const AHEAD_MS = 2_000;

/** Local (per device) preferences kept in localStorage. */
export const storage = {
  get(key: string): string | null {
    try {
      return window.localStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set(key: string, value: string): void {
    try {
      window.localStorage.setItem(key, value);
    } catch {
      // Storage may be unavailable (private mode); the app still works without it.
    }
  },
};

function aheadKey(cmd: string, args: unknown): string {
  return `${cmd} ${JSON.stringify(args)}`;
}

/** The app's shared state. */
export class AppState {
  readonly backend: Backend;
  me = $state<Me | null>(null);
  spaces = $state<SpaceInfo[]>([]);
  roles = $state<Record<SpaceId, Role>>({});
  route = $state<Route>(parseRoute(''));
  toasts = $state<Toast[]>([]);
  searchOpen = $state(false);
  joinTicket = $state<string | null>(null);
  /** The space the current view belongs to (for the sidebar). */
  currentSpace = $state<SpaceId | null>(null);
  /** Whether the app is loaded and past the first-run screens (actions and shortcuts work). */
  ready = $state(false);
  /** Document lists kept current from change events, by name (see `liveList`). */
  private readonly lists = new Map<string, LiveList>();
  /** The next view change moves focus to the new view's h1 (e.g. opening a search result). */
  focusNextView = false;
  /** Asks the journal to open a new entry (File > New journal entry); the journal clears it. */
  composeJournal = $state(false);
  private toastId = 0;
  /** Answers asked for ahead of the view that needs them, by command and arguments. */
  private readonly ahead = new Map<string, Promise<unknown>>();

  constructor(backend: Backend) {
    this.backend = backend;
  }

  /**
   * Asks for `cmd` now, for a view that will ask for it soon (at launch, the start view,
   * whose data then arrives with the app's own instead of a round trip later). The first
   * `call` or `quiet` with the same command and arguments within a few seconds takes the
   * answer; a failed one is asked again by that call. Any change event drops what was
   * asked ahead (see `forgetAhead`), so a view never shows an answer older than a change.
   */
  askAhead<K extends Cmd>(cmd: K, args: Args<K>): void {
    const key = aheadKey(cmd, args);
    const answer = this.backend.call(cmd, args);
    answer.catch(() => {}); // seen by the call that takes it, which then asks again
    this.ahead.set(key, answer);
    setTimeout(() => {
      if (this.ahead.get(key) === answer) this.ahead.delete(key);
    }, AHEAD_MS);
  }

  /** Drops every answer asked for ahead (something changed since they were asked for). */
  forgetAhead(): void {
    this.ahead.clear();
  }

  /** The command's answer: the one asked for ahead if there is one, else asked for now. */
  private async ask<K extends Cmd>(cmd: K, args: Args<K>): Promise<Result<K>> {
    if (this.ahead.size > 0) {
      const key = aheadKey(cmd, args);
      const answer = this.ahead.get(key) as Promise<Result<K>> | undefined;
      if (answer) {
        this.ahead.delete(key);
        try {
          return await answer;
        } catch {
          // Asked again below, so the error is the current one.
        }
      }
    }
    return this.backend.call(cmd, args);
  }

  /** Runs a command; on failure shows the error and rethrows it. */
  async call<K extends Cmd>(cmd: K, args: Args<K>): Promise<Result<K>> {
    try {
      return await this.ask(cmd, args);
    } catch (e) {
      const err = toBackendError(e);
      this.toast('error', err.message, err.code);
      throw err;
    }
  }

  /** Runs a command; on failure returns `null` without telling anyone (optional features). */
  async quiet<K extends Cmd>(cmd: K, args: Args<K>): Promise<Result<K> | null> {
    try {
      return await this.ask(cmd, args);
    } catch {
      return null;
    }
  }

  toast(kind: Toast['kind'], text: string, code?: string): void {
    const id = ++this.toastId;
    this.toasts = [...this.toasts.slice(-3), { id, kind, text, code }];
    setTimeout(() => this.dismiss(id), kind === 'error' ? 12_000 : 5_000);
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }

  /** Loads who you are, your spaces and your role in each. */
  async refresh(): Promise<void> {
    const [me, spaces] = await Promise.all([this.call('me', {}), this.call('spaces', {})]);
    this.me = me;
    this.spaces = spaces;
    const roles: Record<SpaceId, Role> = {};
    for (const s of spaces) {
      // The personal space is all the person's own.
      const role = s.personal ? 'facilitator' : s.role;
      if (role) roles[s.id] = role;
    }
    this.roles = roles;
  }

  cohorts(): SpaceInfo[] {
    return this.spaces.filter((s) => !s.personal);
  }

  spaceName(id: SpaceId | null | undefined): string {
    if (!id) return '';
    return this.spaces.find((s) => s.id === id)?.name ?? 'Unknown space';
  }

  isFacilitator(space: SpaceId | null | undefined): boolean {
    return !!space && this.roles[space] === 'facilitator';
  }

  navigate(route: Route): void {
    const href = routeHref(route);
    this.route = route;
    // pushState (not `location.hash =`): no hashchange to wait for, no scroll-to-fragment.
    // It costs a few milliseconds, so it runs after the view has started to switch (a
    // microtask queued after the one that renders the new route). Back and forward still
    // come back as popstate / hashchange (see App.svelte).
    queueMicrotask(() => {
      if (window.location.hash === href) return;
      try {
        window.history.pushState(window.history.state, '', href);
      } catch {
        window.location.hash = href;
      }
    });
  }

  /**
   * Whether this data dir still needs the first-run screens, decided from the data dir itself
   * (so a data dir set up with the CLI, or opened in another browser, is not onboarded
   * again): the profile has a name of its own, or the person already has a cohort or a
   * journal entry. The built-in sample cohort does not count: the desktop app creates it on
   * first launch, before anyone has been asked their name. Call after {@link refresh}.
   */
  async isFirstRun(): Promise<boolean> {
    if (!this.me) return true;
    if (this.me.display_name.trim() && this.me.display_name !== DEFAULT_DISPLAY_NAME) return false;
    if (this.cohorts().some((c) => c.name !== SAMPLE_COHORT_NAME)) return false;
    const journal = await this.quiet('journal', {});
    return !journal || journal.length === 0;
  }

  /**
   * The live list `name` (created with `spec` on first use): list views show it at once
   * when opened again, and it is patched from change events instead of loaded again. The
   * list outlives the view that made it, so `spec` must not read the view's props (a list
   * of one space's documents: `spaceList`).
   */
  liveList(name: string, spec: LiveListSpec): LiveList {
    let list = this.lists.get(name);
    if (!list) {
      list = new LiveList(this.backend, spec);
      this.lists.set(name, list);
    }
    return list;
  }

  /**
   * The live list of a space's documents of one kind (its threads, notes, courses), loaded
   * with `load`. It keeps `space` as given here: a view's `space` prop, read later, gives the
   * next route's space (none, on a thread's page) once the route has moved on.
   */
  spaceList(kind: 'thread' | 'note' | 'course', space: SpaceId, load: (space: SpaceId) => Promise<DocSummary[]>): LiveList {
    return this.liveList(`${kind}:${space}`, {
      load: () => load(space),
      concerns: (e) => e.kind === kind && e.space === space,
      accepts: (s) => s.kind === kind && s.space === space,
    });
  }

  /**
   * Carries out an app-wide action (from the native menu or a keyboard shortcut). Ignored
   * until the app is loaded and past the first-run screens.
   */
  perform(action: MenuAction): void {
    if (!this.ready) return;
    switch (action) {
      case 'search':
        this.searchOpen = true;
        break;
      case 'new_journal_entry':
        this.searchOpen = false;
        this.composeJournal = true;
        if (this.route.name !== 'journal') this.navigate({ name: 'journal' });
        break;
    }
  }
}

export function provideApp(app: AppState): void {
  setContext(KEY, app);
}

export function getApp(): AppState {
  const app = getContext<AppState | undefined>(KEY);
  if (!app) throw new Error('getApp() outside the app: render inside <App> or pass the context');
  return app;
}

/** The context map tests pass to `render(View, { context })`. */
export function appContext(app: AppState): Map<symbol, AppState> {
  return new Map([[KEY, app]]);
}

/**
 * Subscribes to change events passing `filter`, calling `run` at most once per `wait` ms
 * (trailing). When events were lost (a lagged notice) `run` is called whatever the filter,
 * since anything may have changed. Returns the unsubscribe function, for `$effect` cleanups.
 */
export function watchChanges(app: AppState, filter: (e: ChangeEvent) => boolean, run: () => void, wait = 150): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const off = app.backend.onChange((e: ChangeNotice) => {
    if (!isLagged(e) && !filter(e)) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      run();
    }, wait);
  });
  return () => {
    off();
    if (timer) clearTimeout(timer);
  };
}
