import { fireEvent, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { renderApp } from './helpers';

describe('search', () => {
  it('opens with Ctrl+K, shows results in context with marked matches, and opens one', async () => {
    const user = userEvent.setup();
    const { backend } = renderApp();
    await screen.findByTestId('cohort-home');
    await fireEvent.keyDown(window, { key: 'k', ctrlKey: true });
    const dialog = await screen.findByTestId('search-dialog');
    await user.type(within(dialog).getByTestId('search-input'), 'scope');

    const results = await within(dialog).findAllByTestId('search-result');
    const lesson = results.find((r) => r.textContent?.includes('Ownership'));
    expect(lesson).toBeTruthy();
    expect([...lesson!.querySelectorAll('mark')].map((m) => m.textContent)).toEqual(['scope']);
    expect(lesson!.textContent).toContain('Rust Study Circle');
    expect(backend.callsOf('search').at(-1)).toMatchObject({ query: 'scope', limit: 50 });

    await user.keyboard('{Enter}');
    await screen.findByTestId('lesson-reader');
    expect(window.location.hash).toBe(`#/lesson/${backend.ids.ownership}`);
    expect(screen.queryByTestId('search-dialog')).toBeNull();
  });

  it('finds a post and says when nothing matches', async () => {
    const user = userEvent.setup();
    renderApp();
    await user.click(await screen.findByTestId('open-search'));
    const input = await screen.findByTestId('search-input');
    await user.type(input, 'capacity');
    const results = await screen.findAllByTestId('search-result');
    expect(results[0].textContent).toContain('Post');
    expect(results[0].querySelector('mark')?.textContent).toBe('capacity');
    await user.clear(input);
    await user.type(input, 'zebra');
    await waitFor(() => expect(screen.getByText('No results for “zebra”.')).toBeTruthy());
    await user.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByTestId('search-dialog')).toBeNull());
  });
});
