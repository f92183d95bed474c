import { screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import Notes from '../lib/views/Notes.svelte';
import { mock, renderView } from './helpers';

describe('long lists', () => {
  it('renders only a window of 10,000 notes', async () => {
    const backend = mock();
    backend.addManyNotes(backend.cohort, 10_000);
    await renderView(Notes, { space: backend.cohort }, {}, backend);
    await waitFor(() => expect(screen.getByTestId('note-count').textContent).toBe('10001 notes'));
    const rows = screen.getByTestId('note-list').querySelectorAll('li');
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(60);
    // The list still announces its full size.
    expect(rows[0].getAttribute('aria-setsize')).toBe('10001');
  });
});
