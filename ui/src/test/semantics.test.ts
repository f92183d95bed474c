import { screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import ThreadPage from '../lib/views/ThreadPage.svelte';
import { mock, renderApp, renderView } from './helpers';

const CONTROL_ROLES = ['button', 'link', 'textbox', 'searchbox', 'combobox', 'checkbox', 'radio', 'listbox', 'option', 'spinbutton'] as const;

/** Controls of the main view without an accessible name (by their outerHTML start). */
function unnamedControls(): string[] {
  const main = within(document.querySelector('main') as HTMLElement);
  const controls = CONTROL_ROLES.flatMap((role) => main.queryAllByRole(role, { name: (n) => n.trim() === '' }));
  // CodeMirror's editing surface is a textbox by its contenteditable (named by aria-label).
  return controls.map((el) => el.outerHTML.slice(0, 120));
}

describe('semantics of every main view', () => {
  const views: Array<[string, (ids: Record<string, string>, b: ReturnType<typeof mock>) => string, string]> = [
    ['home', (_ids, b) => `#/space/${b.cohort}`, 'since-last-visit'],
    ['courses', (_ids, b) => `#/space/${b.cohort}/courses`, 'courses'],
    ['course outline', (ids) => `#/course/${ids.course}`, 'course-outline'],
    ['lesson', (ids) => `#/lesson/${ids.ownership}`, 'lesson-body'],
    ['lesson with a thread open', (ids) => `#/lesson/${ids.ownership}/thread/${ids.question}`, 'thread-detail'],
    ['lesson editor', (ids) => `#/lesson/${ids.ownership}/edit`, 'lesson-body-editor'],
    ['discussions', (_ids, b) => `#/space/${b.cohort}/threads`, 'thread-list'],
    ['thread', (ids) => `#/thread/${ids.question}`, 'thread-detail'],
    ['notes', (_ids, b) => `#/space/${b.cohort}/notes`, 'note-list'],
    ['note', (ids) => `#/note/${ids.note}`, 'note-editor'],
    ['journal entry', (ids) => `#/journal/${ids.journal}`, 'journal-entry'],
    ['sync', () => '#/sync', 'sync-status'],
    ['history', (ids) => `#/history/${ids.ownership}`, 'history'],
  ];
  for (const [name, hash, ready] of views) {
    it(`${name}: exactly one h1, and every control has a name`, async () => {
      const backend = mock();
      renderApp({ hash: hash(backend.ids, backend) });
      await screen.findAllByTestId(ready);
      await waitFor(() => expect(document.querySelectorAll('h1')).toHaveLength(1));
      // Give late parts (anchors, members, presence) a moment, then check again.
      await new Promise((r) => setTimeout(r, 100));
      expect([...document.querySelectorAll('h1')].map((h) => h.textContent?.trim())).toHaveLength(1);
      expect(unnamedControls()).toEqual([]);
    });
  }

  it("the lesson's own leading heading is not a second h1, and its sections follow the title", async () => {
    const backend = mock();
    renderApp({ hash: `#/lesson/${backend.ids.ownership}` });
    const body = await screen.findByTestId('lesson-body');
    await within(body).findByText(/Moving the value transfers/);
    const h1 = screen.getByRole('heading', { level: 1 });
    expect(h1.textContent).toBe('Ownership');
    // "# Ownership" at the top of the body duplicates the title: it is left out.
    expect(within(body).queryByRole('heading', { name: 'Ownership' })).toBeNull();
    expect(body.querySelector('h1')).toBeNull();
  });

  it('the thread page titles the thread with its h1', async () => {
    const backend = mock();
    await renderView(ThreadPage, { id: backend.ids.question }, {}, backend);
    const h1 = await screen.findByRole('heading', { level: 1 });
    expect(h1.textContent).toBe('Is a moved value copied?');
    expect(screen.getByRole('article', { name: 'Is a moved value copied?' })).toBeTruthy();
  });

  it('the reply box is a textbox naming its mention list, not a combobox', async () => {
    const user = userEvent.setup();
    const backend = mock();
    await renderView(ThreadPage, { id: backend.ids.idea }, {}, backend);
    const box = await screen.findByRole('textbox', { name: 'Your reply' });
    expect(box.tagName).toBe('TEXTAREA');
    expect(box.getAttribute('role')).toBeNull();
    expect(screen.queryByRole('combobox')).toBeNull();
    expect(box.getAttribute('aria-autocomplete')).toBe('list');
    expect(box.getAttribute('aria-expanded')).toBeNull();
    expect(box.getAttribute('aria-controls')).toBeNull();

    await user.type(box, '@Gr');
    const list = await screen.findByRole('listbox', { name: 'Mention a member' });
    expect(box.getAttribute('aria-controls')).toBe(list.id);
    const option = within(list).getByRole('option', { name: '@Grace Hopper' });
    expect(box.getAttribute('aria-activedescendant')).toBe(option.id);
    expect(screen.getByText(/1 member to mention/).getAttribute('role')).toBe('status');

    await user.keyboard('{Escape}');
    await waitFor(() => expect(box.getAttribute('aria-activedescendant')).toBeNull());
    expect(screen.getByRole('listbox', { hidden: true }).hidden).toBe(true);
  });
});
