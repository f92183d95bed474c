import { emit } from '@tauri-apps/api/event';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../bindings';
import { TauriBackend } from './tauri';
import { isLagged, type ChangeNotice, type MenuAction } from './types';

// The Tauri IPC is mocked at its lowest level (window.__TAURI_INTERNALS__), so `listen` and
// `emit` are the real @tauri-apps/api functions.
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}

afterEach(() => clearMocks());

describe('TauriBackend', () => {
  it('calls the one `call` command with the command and its args', async () => {
    const seen: Array<[string, unknown]> = [];
    mockIPC((cmd, args) => {
      seen.push([cmd, args]);
      return [{ id: 'x', name: 'Personal', personal: true, role: null }];
    });
    const out = await new TauriBackend().call('spaces', {});
    expect(out).toEqual([{ id: 'x', name: 'Personal', personal: true, role: null }]);
    expect(seen).toEqual([['call', { cmd: 'spaces', args: {} }]]);
  });

  it('reports the startup marks to the `startup` command', async () => {
    const seen: Array<[string, unknown]> = [];
    mockIPC((cmd, args) => {
      seen.push([cmd, args]);
      return null;
    });
    const marks = {
      page_at_ms: 900,
      painted_at_ms: 1000.5,
      script_at_ms: 1010,
      data_at_ms: 1100,
      view_at_ms: 1120,
      rendered_at_ms: 1180,
      interactive_at_ms: 1200,
    };
    new TauriBackend().reportStartup(marks);
    await settle();
    expect(seen).toEqual([['startup', { marks }]]);
  });

  it('delivers change events and the lagged refresh from cohort://change', async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const b = new TauriBackend();
    const got: ChangeNotice[] = [];
    const off = b.onChange((e) => got.push(e));
    await settle();
    const event: ChangeEvent = { doc: 'd', space: 's', kind: 'thread', change: 'updated' };
    await emit('cohort://change', event);
    await emit('cohort://change', { lagged: true });
    await emit('cohort://change', null);
    await settle();
    expect(got).toEqual([event, { lagged: true }]);
    expect(got.map(isLagged)).toEqual([false, true]);
    off();
    await settle();
    await emit('cohort://change', event);
    await settle();
    expect(got).toHaveLength(2);
  });

  it('delivers the menu actions of cohort://menu and ignores unknown ones', async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const b = new TauriBackend();
    const got: MenuAction[] = [];
    b.onMenu((a) => got.push(a));
    await settle();
    await emit('cohort://menu', { action: 'search' });
    await emit('cohort://menu', { action: 'quit' });
    await emit('cohort://menu', 'search');
    await emit('cohort://menu', { action: 'new_journal_entry' });
    await settle();
    expect(got).toEqual(['search', 'new_journal_entry']);
  });
});
