import { fireEvent, render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import App from '../App.svelte';
import { MockBackend } from '../lib/backend/mock';

describe('first run', () => {
  it('creates the profile, then a cohort; the data dir then counts as set up', async () => {
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

    // Opening the app again skips the welcome screen, even in a browser that never saw it.
    window.localStorage.clear();
    render(App, { props: { backend } });
    await screen.findByTestId('sidebar');
    expect(screen.queryByTestId('first-run')).toBeNull();
  });

  it('skips the first-run screens for a data dir set up elsewhere (e.g. `cohort init --name`)', async () => {
    // A named profile and nothing else, and no trace of this UI in the browser's storage.
    const backend = new MockBackend({ seed: false, displayName: 'Ada' });
    expect(window.localStorage.length).toBe(0);
    render(App, { props: { backend } });
    await screen.findByTestId('sidebar');
    await screen.findByTestId('journal');
    expect(screen.queryByTestId('first-run')).toBeNull();
    expect(window.location.hash).toBe('#/journal');
  });

  it('skips them for an unnamed profile that already has a cohort or a journal entry', async () => {
    // `cohort init` without --name keeps the core's placeholder name "Learner".
    const withCohort = new MockBackend({ seed: true, displayName: 'Learner' });
    const first = render(App, { props: { backend: withCohort } });
    await screen.findByTestId('cohort-home');
    expect(screen.queryByTestId('first-run')).toBeNull();
    first.unmount();
    window.location.hash = '';

    const withJournal = new MockBackend({ seed: false });
    await withJournal.call('add_journal', { title: 'Day one', body: '', tags: [] });
    render(App, { props: { backend: withJournal } });
    await screen.findByTestId('journal');
    expect(screen.queryByTestId('first-run')).toBeNull();
  });

  it('shows them beside the built-in sample cohort the desktop app creates on first launch', async () => {
    const backend = new MockBackend({ seed: false });
    await backend.call('create_sample', {});
    render(App, { props: { backend } });
    await screen.findByTestId('first-run');
    expect(await screen.findByLabelText(/your name/i)).toBeTruthy();
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
