import { render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import App from '../App.svelte';
import { AppState } from '../lib/app.svelte';
import type { SpaceId } from '../lib/bindings';
import { mock } from './helpers';

/** The cohort the mock backend seeds. */
async function seededCohort(backend: ReturnType<typeof mock>): Promise<SpaceId> {
  const spaces = await backend.call('spaces', {});
  const cohort = spaces.find((s) => !s.personal);
  if (!cohort) throw new Error('the mock seeds a cohort');
  return cohort.id;
}

/** An app over the seeded mock, with its backend's calls watched from here on. */
async function watchedApp() {
  const backend = mock();
  const space = await seededCohort(backend);
  const app = new AppState(backend);
  const spy = vi.spyOn(backend, 'call');
  return { app, space, spy };
}

function callsOf(spy: { mock: { calls: unknown[][] } }, cmd: string): number {
  return spy.mock.calls.filter(([c]) => c === cmd).length;
}

describe('asking ahead', () => {
  it('hands an answer asked for ahead to the first call for it, once', async () => {
    const { app, space, spy } = await watchedApp();
    app.askAhead('charter', { space });
    expect(callsOf(spy, 'charter')).toBe(1);
    const first = await app.call('charter', { space });
    expect(first.name).toBe('Rust Study Circle');
    expect(callsOf(spy, 'charter')).toBe(1);
    // Taken once: the next call asks again.
    await app.quiet('charter', { space });
    expect(callsOf(spy, 'charter')).toBe(2);
    // Other arguments are not the same question.
    app.askAhead('members', { space });
    await app.call('members', { space: 'ff'.repeat(16) as SpaceId }).catch(() => null);
    expect(callsOf(spy, 'members')).toBe(2);
  });

  it('asks again after a change event, and when the answer asked ahead failed', async () => {
    const { app, space, spy } = await watchedApp();
    app.askAhead('charter', { space });
    app.forgetAhead();
    await app.call('charter', { space });
    expect(callsOf(spy, 'charter')).toBe(2);

    // The first answer fails; the call asks again and gets the current one.
    spy.mockRejectedValueOnce(new Error('not yet'));
    app.askAhead('members', { space });
    const members = await app.call('members', { space });
    expect(members.length).toBeGreaterThan(0);
    expect(callsOf(spy, 'members')).toBe(2);
  });

  it('asks for the start cohort home with the app data at launch, and the home takes it', async () => {
    const backend = mock();
    const space = await seededCohort(backend);
    window.localStorage.setItem('cohort.startSpace', space);
    window.location.hash = '';
    const spy = vi.spyOn(backend, 'call');
    render(App, { props: { backend } });
    await screen.findByRole('heading', { level: 1, name: 'Rust Study Circle' });
    await screen.findByText('Ada Lovelace');
    // Asked before `me` and `spaces` answered, and once only.
    const order = spy.mock.calls.map(([c]) => c);
    expect(order.indexOf('charter')).toBeLessThan(order.indexOf('spaces'));
    expect(callsOf(spy, 'charter')).toBe(1);
    expect(callsOf(spy, 'members')).toBe(1);
  });

  it('remembers the cohort a launch started on', async () => {
    const backend = mock();
    const space = await seededCohort(backend);
    window.location.hash = '';
    render(App, { props: { backend } });
    await screen.findByRole('heading', { level: 1, name: 'Rust Study Circle' });
    expect(window.localStorage.getItem('cohort.startSpace')).toBe(space);
  });
});
