import type { ErrorCode, EventMessage, SyncNotice } from '../bindings';
import {
  BackendError,
  Listeners,
  toBackendError,
  type Args,
  type Backend,
  type ChangeNotice,
  type Cmd,
  type MenuAction,
  type Result,
} from './types';

const TOKEN_KEY = 'cohort.token';

/**
 * The access token of web mode: taken from the page's `?token=` (then kept in sessionStorage
 * and removed from the address bar, so it is not bookmarked or shared by accident).
 */
export function takeToken(loc: Location = window.location, storage: Storage = window.sessionStorage): string | null {
  const url = new URL(loc.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    try {
      storage.setItem(TOKEN_KEY, fromUrl);
    } catch {
      // Storage can be disabled; the token still works for this page.
    }
    url.searchParams.delete('token');
    try {
      window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
    } catch {
      // Not fatal: the token just stays visible.
    }
    return fromUrl;
  }
  try {
    return storage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'invalid_input';
    case 404:
      return 'not_found';
    case 409:
      return 'busy';
    default:
      return 'internal';
  }
}

/** Options of {@link WebBackend}. */
export interface WebBackendOptions {
  /** The server's origin (default: the page's). */
  base?: string;
  /** The access token (default: {@link takeToken}). */
  token?: string | null;
  /** For tests. */
  fetch?: typeof fetch;
  /** For tests. */
  WebSocket?: typeof WebSocket;
}

/** Web mode: `POST /api/call/{cmd}` and the `/api/events` WebSocket of `cohort serve --http`. */
export class WebBackend implements Backend {
  private readonly base: string;
  private readonly token: string | null;
  private readonly fetchFn: typeof fetch;
  private readonly WS: typeof WebSocket | undefined;
  private readonly changes = new Listeners<ChangeNotice>();
  private readonly syncs = new Listeners<SyncNotice>();
  private socket: WebSocket | null = null;
  private retryMs = 500;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Whether a socket was open before: events sent while reconnecting are lost. */
  private wasConnected = false;

  constructor(options: WebBackendOptions = {}) {
    this.base = (options.base ?? window.location.origin).replace(/\/$/, '');
    this.token = options.token === undefined ? takeToken() : options.token;
    this.fetchFn = options.fetch ?? window.fetch.bind(window);
    this.WS = options.WebSocket ?? (typeof WebSocket === 'undefined' ? undefined : WebSocket);
  }

  async call<K extends Cmd>(cmd: K, args: Args<K>): Promise<Result<K>> {
    let response: Response;
    try {
      response = await this.fetchFn(`${this.base}/api/call/${encodeURIComponent(cmd)}`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}),
        },
        body: JSON.stringify(args ?? {}),
      });
    } catch (e) {
      throw new BackendError('internal', `Cannot reach Cohort at ${this.base}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const text = await response.text();
    let body: unknown = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    if (!response.ok) {
      if (response.status === 401) {
        throw new BackendError('invalid_input', 'The access token is missing or wrong: open the address that `cohort serve` printed.');
      }
      throw toBackendError(body ?? `HTTP ${response.status}`, codeForStatus(response.status));
    }
    return body as Result<K>;
  }

  onChange(cb: (e: ChangeNotice) => void): () => void {
    const off = this.changes.add(cb);
    this.connect();
    return () => {
      off();
      this.maybeClose();
    };
  }

  onSync(cb: (e: SyncNotice) => void): () => void {
    const off = this.syncs.add(cb);
    this.connect();
    return () => {
      off();
      this.maybeClose();
    };
  }

  /** Browsers have no native menu: nothing to deliver (the app's shortcuts cover it). */
  onMenu(_cb: (action: MenuAction) => void): () => void {
    return () => {};
  }

  private eventsUrl(): string {
    const url = new URL(`${this.base}/api/events`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (this.token) url.searchParams.set('token', this.token);
    return url.toString();
  }

  private connect(): void {
    if (this.socket || this.retryTimer || !this.WS) return;
    let socket: WebSocket;
    try {
      socket = new this.WS(this.eventsUrl());
    } catch (e) {
      console.error('cannot open the events socket', e);
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.retryMs = 500;
      // Changes made while the socket was down were never delivered: reload what is shown.
      if (this.wasConnected) this.changes.emit({ lagged: true });
      this.wasConnected = true;
    };
    socket.onmessage = (msg: MessageEvent) => {
      if (typeof msg.data !== 'string') return;
      let parsed: EventMessage;
      try {
        parsed = JSON.parse(msg.data) as EventMessage;
      } catch {
        return;
      }
      if (!parsed || typeof parsed !== 'object') return;
      if (parsed.event === 'change') this.changes.emit(parsed.data);
      else if (parsed.event === 'lagged') this.changes.emit({ lagged: true });
      else if (parsed.event === 'sync') this.syncs.emit(parsed.data);
    };
    socket.onclose = () => {
      if (this.socket === socket) {
        this.socket = null;
        this.scheduleReconnect();
      }
    };
  }

  private scheduleReconnect(): void {
    if (this.changes.size + this.syncs.size === 0 || this.retryTimer) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, 10_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, wait);
  }

  private maybeClose(): void {
    if (this.changes.size + this.syncs.size > 0) return;
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    const socket = this.socket;
    this.socket = null;
    // Nobody listens any more: the next subscriber loads fresh, there is nothing to catch up.
    this.wasConnected = false;
    socket?.close();
  }
}
