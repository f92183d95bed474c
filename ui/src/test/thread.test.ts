import { screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import ThreadPage from '../lib/views/ThreadPage.svelte';
import { mock, renderView } from './helpers';

describe('thread', () => {
  it('replies: the reply is sent and the new post appears', async () => {
    const user = userEvent.setup();
    const backend = mock();
    const thread = backend.ids.question;
    await renderView(ThreadPage, { id: thread }, {}, backend);
    await screen.findByRole('heading', { name: 'Is a moved value copied?' });
    expect(screen.getAllByTestId('post')).toHaveLength(2);

    await user.type(screen.getByLabelText('Your reply'), 'Only the stack part is copied.');
    await user.click(screen.getByTestId('send-reply'));
    await waitFor(() => expect(screen.getAllByTestId('post')).toHaveLength(3));
    expect(backend.callsOf('reply')).toEqual([{ thread, body: 'Only the stack part is copied.', reply_to: null }]);
    expect(screen.getAllByTestId('post')[2].textContent).toContain('Only the stack part is copied.');
    expect((screen.getByLabelText('Your reply') as HTMLTextAreaElement).value).toBe('');
  });

  it('shows a confirmed reply and reaction at once, without waiting for the thread to reload', async () => {
    const user = userEvent.setup();
    const backend = mock();
    const thread = backend.ids.question;
    await renderView(ThreadPage, { id: thread }, {}, backend);
    await screen.findByRole('heading', { level: 1, name: 'Is a moved value copied?' });
    // The reload after the reply fails: the reply still shows, from the core's confirmation.
    backend.failNext('thread', 'busy', 'busy');
    await user.type(screen.getByLabelText('Your reply'), 'Confirmed by the core.');
    await user.click(screen.getByTestId('send-reply'));
    await waitFor(() => expect(screen.getAllByTestId('post')).toHaveLength(3));
    expect(screen.getAllByTestId('post')[2].textContent).toContain('Confirmed by the core.');
    expect(screen.getAllByTestId('post')[2].textContent).toContain('Sam Learner');

    backend.failNext('thread', 'busy', 'busy');
    await user.click(within(screen.getAllByTestId('post')[2]).getByRole('button', { name: /React 🎉/ }));
    await waitFor(() => expect(within(screen.getAllByTestId('post')[2]).getByRole('button', { name: /React 🎉, 1 so far/ }).getAttribute('aria-pressed')).toBe('true'));
    expect(backend.callsOf('react')).toEqual([{ thread, post: expect.any(String), reaction: '🎉', on: true }]);
  });

  it('keeps the reply text when sending fails', async () => {
    const user = userEvent.setup();
    const backend = mock();
    backend.failNext('reply', 'disk_full', 'The disk is full');
    const { app } = await renderView(ThreadPage, { id: backend.ids.question }, {}, backend);
    await user.type(await screen.findByLabelText('Your reply'), 'Important thought');
    await user.click(screen.getByTestId('send-reply'));
    await waitFor(() => expect(app.toasts.map((t) => `${t.code}: ${t.text}`)).toEqual(['disk_full: The disk is full']));
    expect((screen.getByLabelText('Your reply') as HTMLTextAreaElement).value).toBe('Important thought');
  });

  it('accepts an answer as a facilitator and shows it as accepted', async () => {
    const user = userEvent.setup();
    const backend = mock();
    const thread = backend.ids.question;
    await renderView(ThreadPage, { id: thread }, {}, backend);
    await user.click(await screen.findByTestId('accept'));
    await screen.findByTestId('accepted-badge');
    const accepted = screen.getByTestId('accepted-badge').closest('[data-testid="post"]') as HTMLElement;
    expect(accepted.textContent).toContain('a move copies the pointer');
    expect(backend.callsOf('accept')).toHaveLength(1);
    expect(screen.getByText('Answered')).toBeTruthy();
  });

  it('does not offer accepting to a learner who did not ask', async () => {
    const backend = mock({ role: 'learner' });
    await renderView(ThreadPage, { id: backend.ids.question }, {}, backend);
    await screen.findByRole('heading', { name: 'Is a moved value copied?' });
    expect(screen.queryByTestId('accept')).toBeNull();
  });

  it('toggles a reaction', async () => {
    const user = userEvent.setup();
    const backend = mock();
    await renderView(ThreadPage, { id: backend.ids.question }, {}, backend);
    const first = (await screen.findAllByTestId('post'))[0];
    await user.click(within(first).getByRole('button', { name: /React 👍/ }));
    await waitFor(() => expect(within(screen.getAllByTestId('post')[0]).getByRole('button', { name: /React 👍, 1 so far/ }).getAttribute('aria-pressed')).toBe('true'));
    expect(backend.callsOf('react')[0]).toMatchObject({ reaction: '👍', on: true });
  });

  it('suggests members after @ and highlights mentions', async () => {
    const user = userEvent.setup();
    const backend = mock();
    await renderView(ThreadPage, { id: backend.ids.idea }, {}, backend);
    // The opening post mentions Grace: highlighted.
    await waitFor(() => expect(document.querySelector('.mention')?.textContent).toBe('@Grace Hopper'));
    const box = screen.getByLabelText('Your reply');
    await user.type(box, 'Thanks @Gr');
    const option = await screen.findByRole('option', { name: '@Grace Hopper' });
    expect(option.getAttribute('aria-selected')).toBe('true');
    await user.keyboard('{Enter}');
    expect((box as HTMLTextAreaElement).value).toBe('Thanks @Grace Hopper ');
  });

  it('refreshes when a reply arrives from another peer', async () => {
    const backend = mock();
    await renderView(ThreadPage, { id: backend.ids.question }, {}, backend);
    await screen.findByRole('heading', { name: 'Is a moved value copied?' });
    backend.remoteReply(backend.ids.question, backend.ids.ada, 'Thanks, that explains it.');
    await waitFor(() => expect(screen.getAllByTestId('post')).toHaveLength(3));
    expect(screen.getAllByTestId('post')[2].textContent).toContain('Ada Lovelace');
  });
});
