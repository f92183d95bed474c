import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { SyncNotice } from '../bindings';
import type { StartupMarks } from '../perf';
import {
  toBackendError,
  toMenuAction,
  type Args,
  type Backend,
  type ChangeNotice,
  type Cmd,
  type MenuAction,
  type Result,
} from './types';

/** Subscribes to a Tauri event and returns a synchronous unsubscribe function. */
function subscribe<T>(event: string, cb: (payload: T) => void): () => void {
  let unlisten: UnlistenFn | null = null;
  let cancelled = false;
  listen<T>(event, (e) => cb(e.payload))
    .then((fn) => {
      if (cancelled) fn();
      else unlisten = fn;
    })
    .catch((err: unknown) => console.error(`cannot listen to ${event}`, err));
  return () => {
    cancelled = true;
    unlisten?.();
    unlisten = null;
  };
}

/** The desktop app's backend: one generic `call` command and namespaced events. */
export class TauriBackend implements Backend {
  async call<K extends Cmd>(cmd: K, args: Args<K>): Promise<Result<K>> {
    try {
      return await invoke<Result<K>>('call', { cmd, args });
    } catch (e) {
      throw toBackendError(e);
    }
  }

  onChange(cb: (e: ChangeNotice) => void): () => void {
    // The payload is a `ChangeEvent`, or `{ "lagged": true }` when the shell's event pump
    // fell behind or coalesced a burst too big to send one by one.
    return subscribe<ChangeNotice | null>('cohort://change', (p) => {
      if (p && typeof p === 'object') cb(p);
    });
  }

  onSync(cb: (e: SyncNotice) => void): () => void {
    return subscribe<SyncNotice>('cohort://sync', cb);
  }

  onDeepLink(cb: (ticket: string) => void): () => void {
    return subscribe<{ ticket: string }>('cohort://deep-link', (p) => {
      if (p && typeof p.ticket === 'string') cb(p.ticket);
    });
  }

  reportStartup(marks: StartupMarks): void {
    // Only logged by the shell: nothing to tell the user if it fails.
    invoke('startup', { marks }).catch((err: unknown) => console.warn('cannot report startup times', err));
  }

  onMenu(cb: (action: MenuAction) => void): () => void {
    return subscribe<{ action?: unknown } | null>('cohort://menu', (p) => {
      const action = toMenuAction(p?.action);
      if (action) cb(action);
    });
  }
}
