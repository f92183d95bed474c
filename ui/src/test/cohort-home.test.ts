import { screen, waitFor, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import CohortHome from '../lib/views/CohortHome.svelte';
import { mock, renderApp, renderView } from './helpers';

describe('cohort home', () => {
  it('shows the charter and members with role, presence and last sync', async () => {
    const backend = mock();
    await renderView(CohortHome, { space: backend.cohort }, {}, backend);
    await screen.findByRole('heading', { level: 1, name: 'Rust Study Circle' });
    expect(await screen.findByText('Learn Rust together, one chapter a week.')).toBeTruthy();
    expect(screen.getByText('Say what you tried before you ask.')).toBeTruthy();
    expect(screen.getByText('Weekly call')).toBeTruthy();
    expect(screen.getByText('Finish the basics')).toBeTruthy();
    const members = screen.getByTestId('members');
    await waitFor(() => expect(within(members).getByText('Ada Lovelace').closest('li')?.textContent).toContain('Online now'));
    expect(within(members).getByText('Grace Hopper').closest('li')?.textContent).toMatch(/Last synced/);
    expect(within(members).getByText(/Sam Learner/).closest('li')?.textContent).toContain('facilitator');
    // Your own entry says so, set apart from your name.
    expect(within(members).getByText(/Sam Learner/).textContent).toBe('Sam Learner (you)');
  });

  it('lists what happened since the last visit: new threads, replies and lesson changes', async () => {
    const backend = mock();
    // The last visit was after the seed data was written.
    const seeded = Math.max(...(await backend.call('threads', { space: backend.cohort, lesson: null })).map((t) => t.updated_at));
    window.localStorage.setItem(`cohort.lastVisit.${backend.cohort}`, String(seeded + 1));
    backend.remoteReply(backend.ids.howto, backend.ids.ada, 'Also install rust-analyzer.');
    backend.remoteSplice(backend.ids.borrowing, { pos: 0, delete: 0, insert: 'Updated. ' }, backend.ids.grace);
    await backend.call('new_thread', { space: backend.cohort, kind: 'idea', title: 'Pair on exercises', body: 'Anyone?', lesson: null, anchor: null });

    const listed = backend.callsOf('threads').length;
    await renderView(CohortHome, { space: backend.cohort }, {}, backend);
    const since = await screen.findByTestId('since-last-visit');
    await waitFor(() => expect(since.textContent).toContain('Pair on exercises'));
    // Only what changed is asked for, not every thread of the cohort.
    expect(backend.callsOf('threads')).toHaveLength(listed);
    expect(backend.callsOf('changes')[0]).toMatchObject({ space: backend.cohort, kinds: ['thread', 'lesson'], since: seeded + 1 });
    // The how-to was opened by you, so new posts in it are replies to you.
    expect(within(since).getByText('How to install the toolchain').closest('li')?.textContent).toContain('New replies to you');
    const lesson = within(since).getByText('Borrowing').closest('li') as HTMLElement;
    expect(lesson.textContent).toContain('Lesson changed');
    await waitFor(() => expect(lesson.textContent).toContain('by Grace Hopper'));
    expect(since.textContent).not.toContain('Is a moved value copied?');
  });

  it('shows its heading, from the space list, before the charter arrives', async () => {
    const backend = mock();
    let answer: () => void = () => {};
    const held = new Promise<void>((resolve) => (answer = resolve));
    const call = backend.call.bind(backend);
    backend.call = (async (cmd: string, args: unknown) => {
      if (cmd === 'charter') await held;
      return call(cmd as never, args as never);
    }) as typeof backend.call;
    await renderView(CohortHome, { space: backend.cohort }, {}, backend);
    expect(await screen.findByRole('heading', { level: 1, name: 'Rust Study Circle' })).toBeTruthy();
    expect(screen.getByText('Loading…')).toBeTruthy();
    answer();
    expect(await screen.findByText('Learn Rust together, one chapter a week.')).toBeTruthy();
    expect(screen.getAllByRole('heading', { level: 1 })).toHaveLength(1);
  });

  it('says when the cohort last synced and what is still on its way, one part at a time', async () => {
    const backend = mock();
    backend.receiveUnindexed(backend.cohort, 1);
    await backend.call('new_thread', { space: backend.cohort, kind: 'question', title: 'Lifetimes?', body: 'Why?', lesson: null, anchor: null });
    await renderView(CohortHome, { space: backend.cohort }, {}, backend);
    const summary = await screen.findByTestId('cohort-summary');
    await waitFor(() => expect(summary.textContent).toContain('last synced'));
    expect(summary.textContent).toMatch(/^\d+ members · last synced [^·]+ · \d+ changes? waiting to sync · indexing 1 received document$/);
  });

  it('offers to invite people only to facilitators, who can', async () => {
    const facilitator = mock();
    const first = await renderView(CohortHome, { space: facilitator.cohort }, {}, facilitator);
    await screen.findByTestId('members');
    expect(screen.getByRole('link', { name: 'Invite people…' }).getAttribute('href')).toBe('#/sync');
    first.unmount();

    const learner = mock({ role: 'learner' });
    await renderView(CohortHome, { space: learner.cohort }, {}, learner);
    await screen.findByTestId('members');
    expect(screen.queryByRole('link', { name: 'Invite people…' })).toBeNull();
  });

  it('records the visit for its own cohort when you leave it for a page of no cohort', async () => {
    const space = mock().cohort;
    const { backend } = renderApp({ hash: `#/space/${space}` });
    await screen.findByTestId('members');
    expect(window.localStorage.getItem(`cohort.lastVisit.${space}`)).toBeNull();
    window.location.hash = `#/thread/${backend.ids.question}`;
    await screen.findByTestId('thread-page');
    expect(Number(window.localStorage.getItem(`cohort.lastVisit.${space}`))).toBeGreaterThan(0);
    expect(window.localStorage.getItem('cohort.lastVisit.undefined')).toBeNull();
  });

  it('explains the feed on a first visit', async () => {
    const backend = mock();
    await renderView(CohortHome, { space: backend.cohort }, {}, backend);
    expect((await screen.findByTestId('since-last-visit')).textContent).toContain('first visit');
  });
});
