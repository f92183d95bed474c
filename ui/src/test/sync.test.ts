import { screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import SyncPanel from '../lib/views/SyncPanel.svelte';
import { mock, renderView } from './helpers';

describe('sync panel', () => {
  it('shows peers and per-cohort status, and syncs on demand', async () => {
    const user = userEvent.setup();
    const backend = mock();
    await renderView(SyncPanel, {}, {}, backend);
    const peers = await screen.findByTestId('peers');
    expect(within(peers).getByText('Ada Lovelace').closest('li')?.textContent).toContain('Connected');
    expect(within(peers).getByText('Grace Hopper').closest('li')?.textContent).toContain('Last seen');
    const status = screen.getByTestId('sync-status');
    expect(within(status).getByRole('rowheader', { name: 'Rust Study Circle' })).toBeTruthy();
    const pendingBefore = (await backend.call('sync_status', {}))[0].pending;
    expect(pendingBefore).toBeGreaterThan(0);

    await user.click(screen.getByTestId('sync-now'));
    await waitFor(() => expect(backend.callsOf('sync_now')).toHaveLength(1));
    await waitFor(() => expect(within(screen.getByTestId('sync-status')).getAllByRole('cell')[1].textContent).toBe('0'));
  });

  it('says how many received documents are still being indexed', async () => {
    const backend = mock();
    backend.receiveUnindexed(backend.cohort, 1250);
    await renderView(SyncPanel, {}, {}, backend);
    const status = await screen.findByTestId('sync-status');
    const row = within(status).getByRole('rowheader', { name: 'Rust Study Circle' }).closest('tr');
    expect(row?.textContent).toContain('indexing 1250 received documents');
  });

  it('creates an invite with a ticket to copy and a QR code', async () => {
    const user = userEvent.setup();
    const backend = mock();
    await renderView(SyncPanel, {}, {}, backend);
    await screen.findByTestId('invite-form');
    await user.selectOptions(screen.getByLabelText('Role'), 'observer');
    await user.click(screen.getByTestId('create-invite'));
    const ticket = await screen.findByTestId('invite-ticket');
    const text = (within(ticket).getByRole('textbox') as HTMLTextAreaElement).value;
    expect(text).toMatch(/^cohort1/);
    expect(backend.callsOf('invite_create')).toEqual([{ space: backend.cohort, role: 'observer', uses: 1, expires_days: 7 }]);
    const qr = await within(ticket).findByTestId('invite-qr');
    expect(qr.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    expect(qr.getAttribute('alt')).toBe('QR code of the invite ticket');
  });

  it('joins with a ticket', async () => {
    const user = userEvent.setup();
    const backend = mock();
    const { app } = await renderView(SyncPanel, {}, {}, backend);
    await user.type(await screen.findByLabelText('Invite ticket'), `cohort1${'ab'.repeat(20)}`);
    await user.click(screen.getByRole('button', { name: 'Join cohort' }));
    await waitFor(() => expect(app.route.name).toBe('home'));
    expect(app.spaces.map((s) => s.name)).toContain('Joined cohort');
  });

  it('says so when sync is not available instead of failing', async () => {
    const backend = mock({ sync: false });
    await renderView(SyncPanel, {}, {}, backend);
    await screen.findByText(/Sync is not running/);
    expect((screen.getByTestId('sync-now') as HTMLButtonElement).disabled).toBe(true);
  });
});
