import type { ChangeEvent, Commands, ErrorCode, SyncNotice } from '../bindings';
import type { StartupMarks } from '../perf';

/** The name of a bridge command. */
export type Cmd = keyof Commands;
/** The argument object of a command. */
export type Args<K extends Cmd> = Commands[K]['args'];
/** The result of a command. */
export type Result<K extends Cmd> = Commands[K]['result'];

/**
 * Some change events were lost (the event stream fell behind the core, or a burst was too big
 * to send one by one): whatever is shown may be stale and must be reloaded. The desktop shell
 * sends it as `{ "lagged": true }` on `cohort://change`; web mode as `{"event":"lagged"}`.
 */
export interface Lagged {
  lagged: true;
}

/** What change subscribers receive: one document's change, or "reload everything". */
export type ChangeNotice = ChangeEvent | Lagged;

/** Whether a change notice means "changes were missed: reload everything shown". */
export function isLagged(e: ChangeNotice): e is Lagged {
  return (e as Partial<Lagged>).lagged === true;
}

/**
 * A native menu action the UI carries out: the desktop shell emits `cohort://menu` with
 * `{ "action": "new_journal_entry" | "search" }` (File > New journal entry, File > Search).
 */
export type MenuAction = 'new_journal_entry' | 'search';

export const MENU_ACTIONS: readonly MenuAction[] = ['new_journal_entry', 'search'];

/** The menu action named `name`, or `null` for anything else (ignored). */
export function toMenuAction(name: unknown): MenuAction | null {
  return MENU_ACTIONS.find((a) => a === name) ?? null;
}

/**
 * The one way the UI reaches the Rust core. Implementations: Tauri (invoke/listen), Web (HTTP +
 * WebSocket to `cohort serve`) and Mock (in memory, for component tests).
 */
export interface Backend {
  /** Runs one command; rejects with a {@link BackendError}. */
  call<K extends Cmd>(cmd: K, args: Args<K>): Promise<Result<K>>;
  /**
   * Subscribes to document change events; returns the unsubscribe function. A {@link Lagged}
   * notice means events were lost: reload everything shown.
   */
  onChange(cb: (e: ChangeNotice) => void): () => void;
  /** Subscribes to sync events (peers connecting, spaces synced, admissions). */
  onSync(cb: (e: SyncNotice) => void): () => void;
  /** Subscribes to `cohort://join/<ticket>` deep links (desktop only). */
  onDeepLink?(cb: (ticket: string) => void): () => void;
  /**
   * Subscribes to native menu actions (the desktop shell's menu bar). Where there is no
   * native menu (web mode) nothing is ever delivered; the same actions have keyboard
   * shortcuts in the app itself.
   */
  onMenu(cb: (action: MenuAction) => void): () => void;
  /** Hands the launch's startup marks to the shell, which logs them (desktop only). */
  reportStartup?(marks: StartupMarks): void;
}

/** A failed call: the `{ code, message }` the core returned (or a transport failure). */
export class BackendError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'BackendError';
    this.code = code;
  }
}

const KNOWN_CODES = new Set<string>([
  'not_found',
  'ambiguous_id',
  'invalid_input',
  'invalid_edit',
  'data_dir_locked',
  'data_dir_unusable',
  'read_only',
  'disk_full',
  'busy',
  'corrupt_database',
  'foreign_database',
  'newer_version',
  'invalid_document',
  'internal',
]);

/** Turns anything a transport threw or returned as an error into a {@link BackendError}. */
export function toBackendError(e: unknown, fallback: ErrorCode = 'internal'): BackendError {
  if (e instanceof BackendError) return e;
  if (e && typeof e === 'object') {
    const o = e as { code?: unknown; message?: unknown };
    if (typeof o.code === 'string' && typeof o.message === 'string') {
      const code = KNOWN_CODES.has(o.code) ? (o.code as ErrorCode) : fallback;
      return new BackendError(code, o.message);
    }
    if (e instanceof Error) return new BackendError(fallback, e.message);
  }
  if (typeof e === 'string') {
    try {
      return toBackendError(JSON.parse(e), fallback);
    } catch {
      return new BackendError(fallback, e);
    }
  }
  return new BackendError(fallback, 'Something went wrong.');
}

/** A set of listeners that tolerates a listener throwing. */
export class Listeners<T> {
  private readonly set = new Set<(value: T) => void>();

  add(cb: (value: T) => void): () => void {
    this.set.add(cb);
    return () => {
      this.set.delete(cb);
    };
  }

  get size(): number {
    return this.set.size;
  }

  emit(value: T): void {
    for (const cb of [...this.set]) {
      try {
        cb(value);
      } catch (err) {
        console.error('listener failed', err);
      }
    }
  }
}
