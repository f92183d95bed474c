import { describe, expect, it, vi } from 'vitest';
import type { Splice } from './bindings';
import { applySplices } from './text';
import { TextSync } from './textsync';

function harness(options: { failSend?: boolean } = {}) {
  let core = 'hello';
  let editor = 'hello';
  const sent: Splice[][] = [];
  let release: (() => void) | null = null;
  const sync = new TextSync({
    delay: 10,
    maxWait: 50,
    send: async (splices) => {
      sent.push(splices);
      await new Promise<void>((r) => (release = r));
      if (options.failSend) throw new Error('refused');
      core = applySplices(core, splices);
    },
    replace: async (text) => {
      core = text;
    },
    fetch: async () => core,
    editorText: () => editor,
    showRemote: (text) => {
      editor = text;
    },
  });
  return {
    sync,
    sent,
    type(s: Splice) {
      editor = applySplices(editor, [s]);
      sync.push([s]);
    },
    release: () => release?.(),
    get core() {
      return core;
    },
    set core(v: string) {
      core = v;
    },
    get editor() {
      return editor;
    },
  };
}

describe('TextSync', () => {
  it('sends splices in order, one batch at a time', async () => {
    const h = harness();
    h.type({ pos: 5, delete: 0, insert: ' world' });
    await vi.waitFor(() => expect(h.sent).toHaveLength(1));
    h.type({ pos: 0, delete: 0, insert: '> ' });
    // The second edit waits for the first batch to finish.
    await new Promise((r) => setTimeout(r, 30));
    expect(h.sent).toHaveLength(1);
    h.release();
    await vi.waitFor(() => expect(h.sent).toHaveLength(2));
    h.release();
    await h.sync.flush();
    expect(h.core).toBe('> hello world');
  });

  it('does not overwrite local typing with a remote body fetched meanwhile', async () => {
    const h = harness();
    h.type({ pos: 5, delete: 0, insert: '!' });
    h.sync.remoteChanged();
    // A remote edit lands in the core while ours is in flight.
    h.core = 'hello REMOTE';
    await vi.waitFor(() => expect(h.sent).toHaveLength(1));
    expect(h.editor).toBe('hello!');
    h.release();
    await h.sync.flush();
    // Once our splice is in, the merged body is shown.
    await vi.waitFor(() => expect(h.editor).toBe('hello! REMOTE'));
  });

  it('falls back to replacing the body when splices are refused, keeping the text', async () => {
    const h = harness({ failSend: true });
    h.type({ pos: 0, delete: 5, insert: 'bye' });
    await vi.waitFor(() => expect(h.sent).toHaveLength(1));
    h.release();
    await h.sync.flush();
    expect(h.core).toBe('bye');
  });
});
