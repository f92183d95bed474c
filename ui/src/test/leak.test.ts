import { screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { mock, renderApp } from './helpers';

describe('subscriptions', () => {
  it('views give back their change subscriptions when they close', async () => {
    const ids = mock().ids;
    const space = mock().cohort;
    const { backend } = renderApp({ hash: `#/space/${space}` });
    await screen.findByTestId('cohort-home');
    const visit = async (hash: string, testid: string) => {
      window.location.hash = hash;
      await screen.findAllByTestId(testid);
      await new Promise((r) => setTimeout(r, 50));
    };
    // Lists stay subscribed for the app's lifetime (one each): visit them once first.
    await visit(`#/space/${space}/threads`, 'thread-list');
    await visit(`#/space/${space}/notes`, 'note-list');
    await visit(`#/space/${space}/courses`, 'courses');
    await visit('#/journal', 'journal');
    await visit(`#/space/${space}`, 'cohort-home');
    const baseline = backend.changeListeners;
    for (let round = 0; round < 3; round++) {
      await visit(`#/space/${space}/threads`, 'thread-list');
      await visit(`#/thread/${ids.question}`, 'thread-detail');
      await visit(`#/lesson/${ids.ownership}`, 'lesson-body');
      await visit(`#/lesson/${ids.ownership}/edit`, 'lesson-body-editor');
      await visit(`#/course/${ids.course}`, 'course-outline');
      await visit(`#/note/${ids.note}`, 'note-editor');
      await visit(`#/journal/${ids.journal}`, 'journal-entry');
      await visit(`#/history/${ids.ownership}`, 'history');
      await visit('#/sync', 'sync-status');
      await visit(`#/space/${space}`, 'cohort-home');
    }
    expect(backend.changeListeners).toBe(baseline);
  });
});
