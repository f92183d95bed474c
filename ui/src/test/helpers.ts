import { render } from '@testing-library/svelte';
import type { Component } from 'svelte';
import App from '../App.svelte';
import { AppState, appContext } from '../lib/app.svelte';
import { MockBackend, type MockOptions } from '../lib/backend/mock';

/**
 * Renders the whole app over a mock backend: by default a returning user (a named profile and
 * a seeded cohort, so no first-run screens).
 */
export function renderApp(options: MockOptions & { hash?: string } = {}) {
  const backend = new MockBackend({ displayName: 'Sam Learner', ...options });
  window.location.hash = options.hash ?? '';
  const result = render(App, { props: { backend } });
  return { backend, ...result };
}

/** A seeded mock backend (a cohort with a course, lessons, threads, a journal entry). */
export function mock(options: MockOptions = {}): MockBackend {
  return new MockBackend({ displayName: 'Sam Learner', ...options });
}

/** Renders one view with a loaded app state. */
export async function renderView<P extends Record<string, unknown>>(
  view: Component<P>,
  props: P,
  options: MockOptions = {},
  backend: MockBackend = new MockBackend({ displayName: 'Sam Learner', ...options }),
) {
  const app = new AppState(backend);
  await app.refresh();
  const context: Map<unknown, unknown> = appContext(app);
  const result = render(view as Component<Record<string, unknown>>, { props, context });
  return { backend, app, ...result };
}

/** Selects `text` (its first occurrence) inside `root`, as a reader dragging over it would. */
export function selectText(root: HTMLElement, text: string): void {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes: Text[] = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) nodes.push(n as Text);
  const full = nodes.map((n) => n.data).join('');
  const at = full.indexOf(text);
  if (at < 0) throw new Error(`"${text}" is not in the rendered text`);
  const locate = (offset: number): [Text, number] => {
    let acc = 0;
    for (const n of nodes) {
      if (offset <= acc + n.data.length) return [n, offset - acc];
      acc += n.data.length;
    }
    throw new Error('offset past the end');
  };
  const [sn, so] = locate(at);
  const [en, eo] = locate(at + text.length);
  const range = document.createRange();
  range.setStart(sn, so);
  range.setEnd(en, eo);
  const sel = window.getSelection();
  sel?.removeAllRanges();
  sel?.addRange(range);
}
