import { TauriBackend } from './tauri';
import type { Backend } from './types';
import { WebBackend } from './web';

export { BackendError, isLagged, toBackendError, toMenuAction } from './types';
export type { Args, Backend, ChangeNotice, Cmd, Lagged, MenuAction, Result } from './types';
export { TauriBackend } from './tauri';
export { WebBackend, takeToken } from './web';

/** The backend for where the UI runs: Tauri inside the desktop shell, else web mode. */
export function pickBackend(): Backend {
  if (typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window) return new TauriBackend();
  return new WebBackend();
}
