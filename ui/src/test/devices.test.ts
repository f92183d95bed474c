import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import App from '../App.svelte';
import { MockBackend } from '../lib/backend/mock';
import SyncPanel from '../lib/views/SyncPanel.svelte';
import { mock, renderView } from './helpers';

/** A well-formed ticket that is neither an invite nor a device link made here. */
const TICKET = `cohort1${'ab'.repeat(20)}`;

function deviceRows(): HTMLElement[] {
  return within(screen.getByTestId('devices')).getAllByTestId('device');
}

describe('your devices (sync panel)', () => {
  it('lists your devices, this one first and marked, with when each was last seen, and follows links', async () => {
    const backend = mock();
    backend.linkOtherDevice('Tablet');
    backend.linkOtherDevice('Old phone', { connected: false, lastSeen: Date.now() - 3 * 3600_000 });
    await renderView(SyncPanel, {}, {}, backend);
    await screen.findByTestId('devices');

    const rows = deviceRows();
    expect(rows.map((r) => r.querySelector('strong')?.textContent)).toEqual(['this computer', 'Old phone', 'Tablet']);
    expect(rows[0].textContent).toContain('This device');
    expect(rows[0].textContent).toContain('In use now');
    expect(within(rows[0]).queryByRole('button')).toBeNull();
    expect(rows[1].textContent).toContain('Last seen 3 hours ago');
    expect(rows[1].textContent).not.toContain('This device');
    expect(rows[2].textContent).toContain('Connected');
    expect(within(rows[2]).getByRole('button', { name: 'Remove Tablet' })).toBeTruthy();

    // A device linked while the panel is open appears (from the personal space's change event).
    backend.linkOtherDevice('Laptop');
    await waitFor(() => expect(deviceRows().map((r) => r.querySelector('strong')?.textContent)).toContain('Laptop'));
  });

  it('links a device: a one-use ticket to copy, its expiry and a QR code; it goes once used', async () => {
    const user = userEvent.setup();
    const backend = mock();
    const { app } = await renderView(SyncPanel, {}, {}, backend);
    await screen.findByTestId('devices');
    expect(screen.queryByTestId('device-ticket')).toBeNull();

    await user.click(screen.getByRole('button', { name: 'Link a device' }));
    const panel = await screen.findByTestId('device-ticket');
    expect(backend.callsOf('device_link')).toEqual([{}]);
    const text = within(panel).getByLabelText(/Ticket to link a new device \(works once, until .+\)/) as HTMLTextAreaElement;
    expect(text.value).toMatch(/^cohort1[0-9a-f]+$/);
    const qr = await within(panel).findByTestId('device-qr');
    expect(qr.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    expect(qr.getAttribute('alt')).toBe('QR code of the device-link ticket');

    await user.click(within(panel).getByRole('button', { name: 'Copy ticket' }));
    expect(await navigator.clipboard.readText()).toBe(text.value);
    expect(within(panel).getByRole('button', { name: 'Copied' })).toBeTruthy();

    // The new device redeems it and is linked: the spent ticket goes, the device is listed.
    backend.linkOtherDevice('Tablet');
    await waitFor(() => expect(screen.queryByTestId('device-ticket')).toBeNull());
    expect(deviceRows().map((r) => r.querySelector('strong')?.textContent)).toContain('Tablet');
    expect(app.toasts.map((t) => t.text)).toContain('Tablet is now one of your devices.');
  });

  it('shows why a ticket could not be made', async () => {
    const user = userEvent.setup();
    const backend = mock();
    backend.failNext('device_link', 'invalid_input', 'this device was unlinked from its person: it cannot link others');
    const { app } = await renderView(SyncPanel, {}, {}, backend);
    await screen.findByTestId('devices');
    await user.click(screen.getByRole('button', { name: 'Link a device' }));
    await waitFor(() => expect(app.toasts.map((t) => [t.kind, t.text])).toEqual([['error', 'this device was unlinked from its person: it cannot link others']]));
    expect(screen.queryByTestId('device-ticket')).toBeNull();
  });

  it('removes a device only after confirming, and can be cancelled from the keyboard', async () => {
    const user = userEvent.setup();
    const backend = mock();
    const tablet = backend.linkOtherDevice('Tablet');
    const { app } = await renderView(SyncPanel, {}, {}, backend);
    await screen.findByTestId('devices');

    const remove = screen.getByRole('button', { name: 'Remove Tablet' });
    await user.click(remove);
    let dialog = await screen.findByRole('dialog', { name: 'Remove Tablet?' });
    expect(dialog.textContent).toContain('receives nothing new');
    // Focus is on Cancel, the safe choice; Escape closes and gives focus back.
    expect(document.activeElement).toBe(within(dialog).getByRole('button', { name: 'Cancel' }));
    await user.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(document.activeElement).toBe(remove);
    expect(backend.callsOf('device_remove')).toEqual([]);

    // A refusal keeps the dialog open and says why.
    backend.failNext('device_remove', 'busy', 'the data dir is busy');
    await user.click(remove);
    dialog = await screen.findByRole('dialog', { name: 'Remove Tablet?' });
    await user.click(within(dialog).getByRole('button', { name: 'Remove device' }));
    await waitFor(() => expect(app.toasts.map((t) => t.text)).toContain('the data dir is busy'));
    expect(screen.getByRole('dialog', { name: 'Remove Tablet?' })).toBeTruthy();

    await user.click(within(dialog).getByRole('button', { name: 'Remove device' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(backend.callsOf('device_remove')).toEqual([{ device: tablet }, { device: tablet }]);
    expect(deviceRows().map((r) => r.querySelector('strong')?.textContent)).toEqual(['this computer']);
    // Focus does not drop to the page body with the removed row.
    await waitFor(() => expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Link a device' })));
  });

  it("shows the core's refusal to add a device that already holds data of its own", async () => {
    const user = userEvent.setup();
    const backend = mock();
    await renderView(SyncPanel, {}, {}, backend);
    await user.click(await screen.findByRole('button', { name: /This is a new device/ }));
    const field = screen.getByLabelText('Device-link ticket');
    await waitFor(() => expect(document.activeElement).toBe(field));
    await user.type(field, TICKET);
    await user.click(screen.getByRole('button', { name: 'Add this device' }));

    const error = await screen.findByTestId('device-add-error');
    expect(error.getAttribute('role')).toBe('alert');
    expect(error.textContent).toContain('this data dir already holds its own data (1 cohort(s)');
    expect(error.textContent).toContain('Only a device that holds nothing of its own yet');
    expect(backend.callsOf('device_add')).toEqual([{ ticket: TICKET, name: null }]);
    expect((field as HTMLTextAreaElement).value).toBe(TICKET);
    expect(screen.queryByTestId('device-linking')).toBeNull();
  });

  it('shows where a pending link of this device stands', async () => {
    const backend = new MockBackend({ seed: false, displayName: 'Sam' });
    await backend.call('device_add', { ticket: TICKET, name: 'Tablet' });
    await renderView(SyncPanel, {}, {}, backend);
    const status = await screen.findByTestId('device-linking');
    expect(status.dataset.state).toBe('waiting');
    expect(status.textContent).toContain('Waiting for your other device');

    backend.refuseLink('the device-link ticket has expired; run `cohort device link` again on your other device', true);
    await waitFor(() => expect(screen.getByTestId('device-linking').dataset.state).toBe('hopeless'));
    expect(screen.getByTestId('device-linking').textContent).toContain('the device-link ticket has expired');
    expect(screen.getByRole('button', { name: 'Use another ticket' })).toBeTruthy();
  });
});

describe('adding this device on first run', () => {
  it('redeems a device-link ticket, waits, and opens the app once linked', async () => {
    const user = userEvent.setup();
    const backend = new MockBackend({ seed: false });
    render(App, { props: { backend } });
    await user.click(await screen.findByRole('button', { name: 'Add this device to it' }));
    await screen.findByRole('heading', { level: 1, name: 'Add this device' });
    await user.type(screen.getByLabelText('Device-link ticket'), TICKET);
    await user.type(screen.getByLabelText(/Name of this device/), 'Tablet');
    await user.click(screen.getByRole('button', { name: 'Add this device' }));

    await screen.findByRole('heading', { level: 1, name: 'Linking this device' });
    expect(backend.callsOf('device_add')).toEqual([{ ticket: TICKET, name: 'Tablet' }]);
    expect(screen.getByTestId('device-linking').dataset.state).toBe('waiting');

    backend.refuseLink('the device is not known to this member yet', false);
    await waitFor(() => expect(screen.getByTestId('device-linking').dataset.state).toBe('refused'));
    expect(screen.getByTestId('device-linking').textContent).toContain('keeps trying');

    backend.finishLink('Maya Chen');
    await screen.findByTestId('journal');
    expect(screen.queryByTestId('first-run')).toBeNull();
    expect(screen.getByTestId('sidebar').textContent).toContain('Maya Chen');
  });

  it('is offered after naming too, and shows a refusal instead of moving on', async () => {
    const user = userEvent.setup();
    const backend = new MockBackend({ seed: false });
    // A note of its own: this data dir is not new any more (though still on first run).
    backend.addManyNotes(backend.me.personal_space, 1);
    render(App, { props: { backend } });
    await user.type(await screen.findByLabelText(/your name/i), 'Maya');
    await user.click(screen.getByRole('button', { name: 'Continue' }));
    await user.click(await screen.findByTestId('start-device'));
    await user.type(screen.getByLabelText('Device-link ticket'), TICKET);
    await user.click(screen.getByRole('button', { name: 'Add this device' }));

    const error = await screen.findByRole('alert');
    expect(error.textContent).toContain('already holds its own data (0 cohort(s), 1 private document(s), 1 device(s))');
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Add this device');
    await user.click(screen.getByRole('button', { name: 'Back' }));
    await screen.findByText('Hello, Maya');
  });

  it('comes back to the waiting screen when the app is opened again while a link is pending', async () => {
    const backend = new MockBackend({ seed: false });
    await backend.call('device_add', { ticket: TICKET });
    render(App, { props: { backend } });
    await screen.findByRole('heading', { level: 1, name: 'Linking this device' });
    backend.refuseLink('the device-link ticket was already used; run `cohort device link` again on your other device', true);
    const again = await screen.findByRole('button', { name: 'Use another ticket' });
    await waitFor(() => expect(screen.getByTestId('device-linking').dataset.state).toBe('hopeless'));
    await userEvent.setup().click(again);
    await screen.findByRole('heading', { level: 1, name: 'Add this device' });
  });
});
