import { fireEvent, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { MockBackend } from '../lib/backend/mock';
import App from '../App.svelte';
import { render } from '@testing-library/svelte';
import { renderApp } from './helpers';

// The desktop shell's menu bar sends `cohort://menu` with `{ action }`; the Mock backend's
// emitMenu delivers the same actions through Backend.onMenu.
describe('menu actions', () => {
  it('File > Search opens search; Escape closes it and focus goes back', async () => {
    const user = userEvent.setup();
    const { backend } = renderApp();
    await screen.findByRole('heading', { level: 1, name: 'Rust Study Circle' });
    const sidebarLink = screen.getByRole('link', { name: 'Courses' });
    sidebarLink.focus();
    backend.emitMenu('search');
    const dialog = await screen.findByTestId('search-dialog');
    await waitFor(() => expect(document.activeElement).toBe(within(dialog).getByTestId('search-input')));
    await user.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByTestId('search-dialog')).toBeNull());
    expect(document.activeElement).toBe(sidebarLink);
  });

  it('File > New journal entry opens a new entry from any view, focused on its title', async () => {
    const user = userEvent.setup();
    const { backend } = renderApp();
    await screen.findByTestId('cohort-home');
    backend.emitMenu('new_journal_entry');
    const form = await screen.findByTestId('journal-form');
    expect(window.location.hash).toBe('#/journal');
    await waitFor(() => expect(document.activeElement).toBe(within(form).getByTestId('journal-title')));
    await user.keyboard('Menu entry');
    await user.click(within(form).getByTestId('save-journal'));
    await screen.findByTestId('journal-entry');
    expect(backend.callsOf('add_journal')).toEqual([{ title: 'Menu entry', body: '', tags: [] }]);

    // Again while the journal is already open: the form opens in place.
    backend.emitMenu('new_journal_entry');
    await screen.findByTestId('journal-form');
    // Escape cancels and gives focus to the "New entry" button.
    await user.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByTestId('journal-form')).toBeNull());
    expect(document.activeElement).toBe(screen.getByTestId('new-journal-entry'));
  });

  it('does nothing during first run', async () => {
    const backend = new MockBackend({ seed: false });
    render(App, { props: { backend } });
    await screen.findByTestId('first-run');
    backend.emitMenu('search');
    backend.emitMenu('new_journal_entry');
    await fireEvent.keyDown(window, { key: 'k', ctrlKey: true });
    await new Promise((r) => setTimeout(r, 50));
    expect(screen.queryByTestId('search-dialog')).toBeNull();
    expect(screen.getByTestId('first-run')).toBeTruthy();
    expect(window.location.hash).not.toBe('#/journal');
  });
});
