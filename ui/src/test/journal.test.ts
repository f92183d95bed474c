import { screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { mock, renderApp } from './helpers';

describe('journal', () => {
  it('writes a private entry, then shares a copy into the cohort', async () => {
    const user = userEvent.setup();
    const { backend } = renderApp({ hash: '#/journal' });
    await screen.findByTestId('journal');
    await user.click(screen.getByTestId('new-journal-entry'));
    await user.type(screen.getByTestId('journal-title'), 'Borrowing clicked');
    await user.type(screen.getByTestId('journal-body'), 'References are like library cards.');
    await user.click(screen.getByTestId('save-journal'));

    const entry = await screen.findByTestId('journal-entry');
    expect(entry.textContent).toContain('Borrowing clicked');
    expect(entry.textContent).toContain('Private');
    const [created] = backend.callsOf('add_journal');
    expect(created).toEqual({ title: 'Borrowing clicked', body: 'References are like library cards.', tags: [] });
    // Private: it is in the personal space, not in the cohort.
    const cohortDocs = await backend.call('list', { kinds: ['journal_entry'], space: backend.cohort, parent: null });
    expect(cohortDocs).toHaveLength(0);

    await user.click(screen.getByTestId('share-journal'));
    await screen.findByTestId('shared-state');
    const [share] = backend.callsOf('share_journal');
    expect(share.space).toBe(backend.cohort);
    const shared = await backend.call('list', { kinds: ['journal_entry'], space: backend.cohort, parent: null });
    expect(shared.map((d) => d.title)).toEqual(['Borrowing clicked']);
  });

  it('lists existing entries', async () => {
    const backend = mock();
    renderApp({ hash: `#/journal/${backend.ids.journal}` });
    await waitFor(() => expect(screen.getByTestId('journal-list').textContent).toContain('What I learned today'));
  });
});
