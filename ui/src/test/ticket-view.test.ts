import { screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import TicketView from '../lib/components/TicketView.svelte';
import { renderView } from './helpers';

const props = {
  ticket: 'cohort1first',
  id: 't',
  label: 'Ticket for Biology',
  qrLabel: 'QR code of the ticket',
  copyTestid: 'copy',
  qrTestid: 'qr',
};

describe('a ticket to hand over', () => {
  it('is labelled text to copy, says when it copied, and forgets that for a new ticket', async () => {
    const user = userEvent.setup();
    const { rerender } = await renderView(TicketView, props);
    const text = screen.getByLabelText('Ticket for Biology') as HTMLTextAreaElement;
    expect(text.value).toBe('cohort1first');
    expect(text.readOnly).toBe(true);
    expect((await screen.findByTestId('qr')).getAttribute('alt')).toBe('QR code of the ticket');

    await user.click(screen.getByRole('button', { name: 'Copy ticket' }));
    expect(await navigator.clipboard.readText()).toBe('cohort1first');
    expect(screen.getByRole('button', { name: 'Copied' })).toBeTruthy();
    expect(screen.getByRole('status').textContent).toBe('Ticket copied');

    await rerender({ ...props, ticket: 'cohort1second' });
    expect(text.value).toBe('cohort1second');
    expect(screen.getByRole('button', { name: 'Copy ticket' })).toBeTruthy();
    expect(screen.getByRole('status').textContent).toBe('');
  });

  it('says how to copy by hand when the clipboard is refused', async () => {
    const user = userEvent.setup();
    const { app } = await renderView(TicketView, props);
    const refuse = vi.spyOn(navigator.clipboard, 'writeText').mockRejectedValue(new Error('denied'));
    await user.click(screen.getByRole('button', { name: 'Copy ticket' }));
    await waitFor(() => expect(app.toasts.map((t) => t.text)).toContain('Copying is not allowed here; select the ticket text and copy it.'));
    expect(screen.getByRole('button', { name: 'Copy ticket' })).toBeTruthy();
    refuse.mockRestore();
  });
});
