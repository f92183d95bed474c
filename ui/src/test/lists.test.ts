import { screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { count } from '../lib/format';
import { mock, renderApp } from './helpers';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('list views', () => {
  it('show a list again at once, kept current from change events without loading it whole', async () => {
    // Mock ids are deterministic: the space of a fresh mock is the rendered app's too.
    const space = mock().cohort;
    const { backend } = renderApp({ hash: `#/space/${space}/threads` });
    const list = await screen.findByTestId('thread-list');
    const count = within(list).getAllByRole('link').length;
    expect(backend.callsOf('threads')).toHaveLength(1);

    window.location.hash = `#/space/${space}`;
    await screen.findByTestId('cohort-home');
    const created = await backend.call('new_thread', { space, kind: 'idea', title: 'Posted while away', body: 'Hi', lesson: null, anchor: null });
    // The list is patched in the background, from that document's summary alone.
    await waitFor(() => expect(backend.callsOf('summary')).toContainEqual({ id: created }));
    await pause(100);

    window.location.hash = `#/space/${space}/threads`;
    const again = await screen.findByTestId('thread-list');
    expect(screen.queryByText('Loading…')).toBeNull();
    expect(within(again).getAllByRole('link')).toHaveLength(count + 1);
    // Newest change first, as the core orders it.
    expect(within(again).getAllByRole('link')[0].textContent).toContain('Posted while away');
    expect(within(again).getAllByRole('link')[0].textContent).toMatch(/\b1 post\b/);
    expect(backend.callsOf('threads')).toHaveLength(1);

    // A reply elsewhere updates the row's post count through its summary alone.
    backend.remoteReply(backend.ids.question, backend.ids.ada, 'From afar');
    await waitFor(() => expect(within(screen.getByTestId('thread-list')).getAllByRole('link')[0].textContent).toContain('Is a moved value copied?'));
    expect(within(screen.getByTestId('thread-list')).getAllByRole('link')[0].textContent).toContain('3 posts');
    expect(backend.callsOf('threads')).toHaveLength(1);
  });

  it('a thread started or answered on its own page is in the list when you go back to it', async () => {
    const user = userEvent.setup();
    const space = mock().cohort;
    const { backend } = renderApp({ hash: `#/space/${space}/threads` });
    const list = await screen.findByTestId('thread-list');
    const before = within(list).getAllByRole('link').length;

    // Started from the list: the app moves on to the new thread's page.
    await user.click(screen.getByTestId('new-thread'));
    await user.type(screen.getByLabelText('Title'), 'Started here');
    await user.type(screen.getByLabelText('Your post'), 'First post');
    await user.click(within(screen.getByTestId('new-thread-form')).getByRole('button', { name: 'Post' }));
    await waitFor(() => expect(window.location.hash).toMatch(/^#\/thread\//));
    await screen.findByTestId('thread-page');
    // Answered on its page.
    await user.type(screen.getByLabelText('Your reply'), 'And a reply');
    await user.click(screen.getByTestId('send-reply'));
    await waitFor(() => expect(backend.callsOf('reply')).toHaveLength(1));
    // Both changes reach the list while this page is open (it patches 100 ms after a change).
    await pause(300);
    expect(backend.callsOf('summary').length).toBeGreaterThanOrEqual(1);

    window.location.hash = `#/space/${space}/threads`;
    const again = await screen.findByTestId('thread-list');
    await waitFor(() => expect(within(again).getAllByRole('link')).toHaveLength(before + 1));
    const row = within(again).getByText('Started here').closest('a') as HTMLElement;
    expect(row.textContent).toContain('2 posts');
  });

  it('a note created from the list is in it when you come back from its page', async () => {
    const user = userEvent.setup();
    const space = mock().cohort;
    renderApp({ hash: `#/space/${space}/notes` });
    const before = Number.parseInt((await screen.findByTestId('note-count')).textContent ?? '', 10);
    await user.click(screen.getByTestId('new-note'));
    await user.type(screen.getByLabelText('Note title'), 'Made on its own page{Enter}');
    await waitFor(() => expect(window.location.hash).toMatch(/^#\/note\//));
    await pause(300);

    window.location.hash = `#/space/${space}/notes`;
    await screen.findByTestId('note-list');
    await waitFor(() => expect(screen.getByTestId('note-count').textContent).toBe(count(before + 1, 'note')));
    expect(within(screen.getByTestId('note-list')).getByText('Made on its own page')).toBeTruthy();
  });

  it('a course created from the list is in it when you come back from its outline', async () => {
    const user = userEvent.setup();
    const space = mock().cohort;
    renderApp({ hash: `#/space/${space}/courses` });
    const list = await screen.findByTestId('courses');
    await waitFor(() => expect(within(list).getAllByRole('link').length).toBeGreaterThan(0));
    await user.click(screen.getByTestId('new-course'));
    await user.type(screen.getByLabelText('Title'), 'Made from the list{Enter}');
    await waitFor(() => expect(window.location.hash).toMatch(/^#\/course\//));
    await pause(300);

    window.location.hash = `#/space/${space}/courses`;
    const again = await screen.findByTestId('courses');
    await waitFor(() => expect(within(again).getByText('Made from the list')).toBeTruthy());
  });

  it('loads the whole list again after lost events or a burst of changes', async () => {
    const space = mock().cohort;
    const { backend } = renderApp({ hash: `#/space/${space}/notes` });
    await screen.findByTestId('note-list');
    expect(backend.callsOf('notes')).toHaveLength(1);

    backend.emitLagged();
    await waitFor(() => expect(backend.callsOf('notes')).toHaveLength(2));

    backend.addManyNotes(space, 60);
    await waitFor(() => expect(screen.getByTestId('note-count').textContent).toBe('61 notes'));
    expect(backend.callsOf('notes')).toHaveLength(3);
    expect(backend.callsOf('summary')).toHaveLength(0);
  });
});
