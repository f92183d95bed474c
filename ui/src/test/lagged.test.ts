import { screen, waitFor, within } from '@testing-library/svelte';
import { EditorView } from '@codemirror/view';
import { describe, expect, it } from 'vitest';
import LessonEditor from '../lib/views/LessonEditor.svelte';
import ThreadPage from '../lib/views/ThreadPage.svelte';
import { mock, renderApp, renderView } from './helpers';

// When the change-event stream says it lagged (events were lost), every view reloads what it
// shows: these changes reach the UI only through that notice.
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('lagged change stream', () => {
  it('a thread reloads and shows a reply whose event was lost', async () => {
    const backend = mock();
    const thread = backend.ids.question;
    await renderView(ThreadPage, { id: thread }, {}, backend);
    await screen.findByRole('heading', { level: 1, name: 'Is a moved value copied?' });
    expect(screen.getAllByTestId('post')).toHaveLength(2);

    await backend.withoutEvents(() => backend.remoteReply(thread, backend.ids.ada, 'A reply nobody announced.'));
    await pause(250);
    expect(screen.getAllByTestId('post')).toHaveLength(2);

    backend.emitLagged();
    await waitFor(() => expect(screen.getAllByTestId('post')).toHaveLength(3));
    expect(screen.getAllByTestId('post')[2].textContent).toContain('A reply nobody announced.');
  });

  it('the app reloads its spaces, and the open list reloads too', async () => {
    const { backend } = renderApp({ hash: '' });
    await screen.findByTestId('cohort-home');
    const space = backend.cohort;
    window.location.hash = `#/space/${space}/threads`;
    await screen.findByTestId('threads');
    const list = await screen.findByTestId('thread-list');
    const before = within(list).getAllByRole('link').length;
    // Let the events of the mock's seeding (delivered on timers) play out first.
    await pause(300);

    await backend.withoutEvents(async () => {
      await backend.call('create_cohort', { name: 'Quiet cohort', purpose: '' });
      await backend.call('new_thread', { space, kind: 'idea', title: 'Arrived unannounced', body: 'Hello', lesson: null, anchor: null });
    });
    await pause(300);
    const nav = screen.getByRole('navigation', { name: 'Spaces' });
    expect(nav.textContent).not.toContain('Quiet cohort');
    expect(screen.queryByText('Arrived unannounced')).toBeNull();

    backend.emitLagged();
    await waitFor(() => expect(nav.textContent).toContain('Quiet cohort'));
    await screen.findByText('Arrived unannounced');
    expect(within(screen.getByTestId('thread-list')).getAllByRole('link')).toHaveLength(before + 1);
  });

  it('an open editor fetches the body again and keeps the cursor on its text', async () => {
    const backend = mock();
    const id = backend.ids.ownership;
    await renderView(LessonEditor, { id }, {}, backend);
    const host = await screen.findByTestId('lesson-body-editor');
    await waitFor(() => expect(host.dataset.ready).toBe('true'));
    const view = EditorView.findFromDOM(host.querySelector('.cm-editor') as HTMLElement)!;
    const cursor = view.state.doc.toString().indexOf('goes out of scope');
    view.dispatch({ selection: { anchor: cursor } });

    const insert = '> Edited elsewhere\n\n';
    await backend.withoutEvents(() => backend.remoteSplice(id, { pos: 0, delete: 0, insert }));
    await pause(250);
    expect(view.state.doc.toString().startsWith(insert)).toBe(false);

    backend.emitLagged();
    await waitFor(() => expect(view.state.doc.toString()).toBe(backend.lessonBody(id)));
    expect(view.state.selection.main.head).toBe(cursor + insert.length);
  });
});
