import { fireEvent, render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import App from '../App.svelte';
import { MockBackend } from '../lib/backend/mock';

describe('first run', () => {
  it('creates the profile, then a cohort, and remembers that onboarding is done', async () => {
    const user = userEvent.setup();
    const backend = new MockBackend({ seed: false });
    const first = render(App, { props: { backend } });

    // A new device starts on the welcome screen, asking for a name.
    const name = await screen.findByLabelText(/your name/i);
    await user.type(name, 'Maya Chen');
    await user.click(screen.getByRole('button', { name: 'Continue' }));
    await screen.findByText('Hello, Maya Chen');
    expect(backend.callsOf('set_display_name')).toEqual([{ name: 'Maya Chen' }]);

    // Then: create a cohort.
    await user.click(screen.getByTestId('start-cohort'));
    await user.type(screen.getByLabelText('Cohort name'), 'Night owls');
    await user.click(screen.getByRole('button', { name: 'Create cohort' }));
    await screen.findByRole('heading', { level: 1, name: 'Night owls' });
    expect(backend.callsOf('create_cohort')).toEqual([{ name: 'Night owls', purpose: '' }]);
    // The sidebar lists the new cohort with its sections.
    expect(screen.getByRole('navigation', { name: 'Spaces' }).textContent).toContain('Night owls');
    first.unmount();

    // Opening the app again skips the welcome screen.
    render(App, { props: { backend } });
    await screen.findByTestId('sidebar');
    expect(screen.queryByTestId('first-run')).toBeNull();
  });

  it('keeps the typed name when saving it fails, and can start a journal', async () => {
    const user = userEvent.setup();
    const backend = new MockBackend({ seed: false });
    backend.failNext('set_display_name', 'read_only', 'The data dir is read-only');
    render(App, { props: { backend } });
    const name = await screen.findByLabelText(/your name/i);
    await user.type(name, 'Ravi');
    await user.click(screen.getByRole('button', { name: 'Continue' }));
    const toast = await screen.findByRole('alert');
    expect(toast.textContent).toContain('The data dir is read-only');
    expect((name as HTMLInputElement).value).toBe('Ravi');

    await fireEvent.submit(name.closest('form')!);
    await user.click(await screen.findByTestId('start-journal'));
    await screen.findByTestId('journal');
    expect(window.location.hash).toBe('#/journal');
  });
});
