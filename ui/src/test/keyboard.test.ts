import { fireEvent, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import Notes from '../lib/views/Notes.svelte';
import { mock, renderApp, renderView } from './helpers';

const tabbable = (root: HTMLElement) => [...root.querySelectorAll<HTMLElement>('a[href], button')].filter((el) => el.tabIndex >= 0);

describe('keyboard', () => {
  it('a list of 10,000 notes is one Tab stop; arrows, End and Home move through it', async () => {
    const user = userEvent.setup();
    const backend = mock();
    backend.addManyNotes(backend.cohort, 10_000);
    await renderView(Notes, { space: backend.cohort }, {}, backend);
    const list = await screen.findByTestId('note-list');
    await waitFor(() => expect(tabbable(list)).toHaveLength(1));
    const [stop] = tabbable(list);

    // Tab from the filter box lands on the list's one stop; Tab again leaves the list.
    screen.getByLabelText('Filter notes by title').focus();
    await user.tab();
    expect(document.activeElement).toBe(stop);
    const rowOf = () => (document.activeElement as HTMLElement).closest('li')?.getAttribute('aria-posinset');
    expect(rowOf()).toBe('1');

    await user.keyboard('{ArrowDown}{ArrowDown}');
    await waitFor(() => expect(rowOf()).toBe('3'));
    expect(tabbable(list)).toEqual([document.activeElement]);

    await user.keyboard('{End}');
    await waitFor(() => expect(rowOf()).toBe('10001'));
    expect((document.activeElement as HTMLElement).tagName).toBe('A');
    await user.keyboard('{ArrowUp}');
    await waitFor(() => expect(rowOf()).toBe('10000'));
    await user.keyboard('{Home}');
    await waitFor(() => expect(rowOf()).toBe('1'));

    await user.tab();
    expect(list.contains(document.activeElement)).toBe(false);
  });

  it('Ctrl+K puts focus in the search box; opening a result focuses the new view’s heading', async () => {
    const user = userEvent.setup();
    const { backend } = renderApp();
    await screen.findByTestId('cohort-home');
    const home = window.location.hash;
    await fireEvent.keyDown(window, { key: 'k', ctrlKey: true });
    const input = await screen.findByTestId('search-input');
    await waitFor(() => expect(document.activeElement).toBe(input));
    await user.keyboard('borrow');
    await screen.findAllByTestId('search-result');
    await user.keyboard('{Enter}');
    await waitFor(() => expect(screen.queryByTestId('search-dialog')).toBeNull());
    const h1 = await screen.findByRole('heading', { level: 1 });
    await waitFor(() => expect(document.activeElement).toBe(h1));
    expect(window.location.hash).not.toBe(home);
    expect(backend.callsOf('search').at(-1)).toMatchObject({ query: 'borrow' });
  });

  it('a new thread form takes focus, Escape closes it and gives focus back to "New thread"', async () => {
    const user = userEvent.setup();
    const backend = mock();
    renderApp({ hash: `#/space/${backend.cohort}/threads` });
    await user.click(await screen.findByTestId('new-thread'));
    const form = screen.getByTestId('new-thread-form');
    await waitFor(() => expect(document.activeElement).toBe(within(form).getByLabelText('Kind')));
    await user.tab();
    await user.keyboard('Half-typed title');
    await user.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByTestId('new-thread-form')).toBeNull());
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('new-thread')));
    // The draft is still there when the form opens again.
    await user.keyboard('{Enter}');
    expect((await screen.findByLabelText('Title') as HTMLInputElement).value).toBe('Half-typed title');
  });

  it("in a lesson's discussion panel, a thread opened from the list gets focus and focus returns to it", async () => {
    const user = userEvent.setup();
    const backend = mock();
    renderApp({ hash: `#/lesson/${backend.ids.ownership}` });
    const list = await screen.findByTestId('lesson-threads');
    const item = within(list).getByRole('button', { name: /Is a moved value copied\?/ });
    item.focus();
    await user.keyboard('{Enter}');
    const title = await within(screen.getByTestId('discussion')).findByRole('heading', { level: 2, name: 'Is a moved value copied?' });
    await waitFor(() => expect(document.activeElement).toBe(title));
    await user.click(screen.getByRole('button', { name: '← All discussions' }));
    await waitFor(() =>
      expect(document.activeElement).toBe(within(screen.getByTestId('lesson-threads')).getByRole('button', { name: /Is a moved value copied\?/ })),
    );
  });

  it('after following a link inside a view, focus moves to the new view’s h1', async () => {
    const user = userEvent.setup();
    const backend = mock();
    renderApp({ hash: `#/course/${backend.ids.course}` });
    const link = await screen.findByRole('link', { name: 'Borrowing' });
    link.focus();
    await user.keyboard('{Enter}');
    // jsdom does not follow links: do what the browser would.
    window.location.hash = link.getAttribute('href') ?? '';
    const h1 = await screen.findByRole('heading', { level: 1, name: 'Borrowing' });
    await waitFor(() => expect(document.activeElement).toBe(h1));
  });

  it('the skip link moves focus to the view’s heading', async () => {
    const user = userEvent.setup();
    renderApp();
    const h1 = await screen.findByRole('heading', { level: 1, name: 'Rust Study Circle' });
    await user.tab();
    const skip = screen.getByRole('link', { name: 'Skip to content' });
    expect(document.activeElement).toBe(skip);
    await user.keyboard('{Enter}');
    expect(document.activeElement).toBe(h1);
    expect(window.location.hash).not.toBe('#main');
  });
});
