// Application state shared by every view: the backend, who you are, your spaces and roles, the
// current route, toasts. Views get it with `getApp()`.

import { getContext, setContext } from 'svelte';
import type { ChangeEvent, Me, Role, SpaceId, SpaceInfo } from './bindings';
import { toBackendError, type Args, type Backend, type Cmd, type Result } from './backend';
import { parseRoute, routeHref, type Route } from './router';

/** A message shown briefly in the corner (errors stay until dismissed or replaced). */
export interface Toast {
  id: number;
  kind: 'error' | 'info';
  text: string;
  code?: string;
}

const KEY = Symbol('cohort-app');

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
  private toastId = 0;

  constructor(backend: Backend) {
    this.backend = backend;
  }

  /** Runs a command; on failure shows the error and rethrows it. */
  async call<K extends Cmd>(cmd: K, args: Args<K>): Promise<Result<K>> {
    try {
      return await this.backend.call(cmd, args);
    } catch (e) {
      const err = toBackendError(e);
      this.toast('error', err.message, err.code);
      throw err;
    }
  }

  /** Runs a command; on failure returns `null` without telling anyone (optional features). */
  async quiet<K extends Cmd>(cmd: K, args: Args<K>): Promise<Result<K> | null> {
    try {
      return await this.backend.call(cmd, args);
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
    await Promise.all(
      spaces.map(async (s) => {
        if (s.personal) {
          roles[s.id] = 'facilitator';
          return;
        }
        const members = await this.quiet('members', { space: s.id });
        const mine = members?.find((m) => m.you);
        if (mine) roles[s.id] = mine.role;
      }),
    );
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
    if (window.location.hash !== href) window.location.hash = href;
    this.route = route;
  }

  onboardedKey(): string {
    return `cohort.onboarded.${this.me?.device ?? 'device'}`;
  }

  get onboarded(): boolean {
    return storage.get(this.onboardedKey()) === '1';
  }

  markOnboarded(): void {
    storage.set(this.onboardedKey(), '1');
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
 * (trailing). Returns the unsubscribe function, for `$effect` cleanups.
 */
export function watchChanges(app: AppState, filter: (e: ChangeEvent) => boolean, run: () => void, wait = 150): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const off = app.backend.onChange((e) => {
    if (!filter(e)) return;
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
