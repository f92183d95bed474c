import { screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { INTERACTIVE } from '../lib/perf';
import { renderApp } from './helpers';

// One test per file: the interactive mark is set once per page, as in the app.
describe('startup', () => {
  it('reports the launch to the backend once the start view shows its charter and members', async () => {
    const before = performance.timeOrigin + performance.now();
    const { backend } = renderApp();
    await screen.findByRole('heading', { level: 1, name: 'Rust Study Circle' });
    await waitFor(() => expect(backend.startupReports).toHaveLength(1));
    const [marks] = backend.startupReports;
    expect(marks?.interactive_at_ms).toBeGreaterThanOrEqual(before);
    // Each step of the launch is marked, in order: data loaded, the home view shown and
    // asking for its charter and members, those rendered, interactive.
    const steps = [marks?.data_at_ms, marks?.view_at_ms, marks?.rendered_at_ms, marks?.interactive_at_ms];
    expect(steps.every((t) => typeof t === 'number')).toBe(true);
    expect([...(steps as number[])].sort((a, b) => a - b)).toEqual(steps);
    expect(performance.getEntriesByName(INTERACTIVE, 'mark')).toHaveLength(1);
    // The member list was on screen when the mark was set.
    expect(screen.getByTestId('members').textContent).toContain('Ada Lovelace');
    // Later views and reloads report nothing more.
    backend.emitMenu('search');
    await screen.findByTestId('search-dialog');
    expect(backend.startupReports).toHaveLength(1);
  });
});
