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
    await user.click(within(screen.getAllByTestId('post')[2]).getByRole('button', { name: 'Add a reaction' }));
    await user.click(screen.getByRole('menuitemcheckbox', { name: 'React 🎉' }));
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

  it('adds a reaction from the menu and takes it back with its button', async () => {
    const user = userEvent.setup();
    const backend = mock();
    await renderView(ThreadPage, { id: backend.ids.question }, {}, backend);
    const first = (await screen.findAllByTestId('post'))[0];
    // Only reactions someone gave have a button; the others are in the menu.
    expect(within(first).queryByRole('button', { name: /React 👍/ })).toBeNull();
    const add = within(first).getByRole('button', { name: 'Add a reaction' });
    expect(add.getAttribute('aria-expanded')).toBe('false');
    await user.click(add);
    expect(add.getAttribute('aria-expanded')).toBe('true');
    const item = screen.getByRole('menuitemcheckbox', { name: 'React 👍' });
    expect(item.getAttribute('aria-checked')).toBe('false');
    await user.click(item);
    await waitFor(() => expect(within(screen.getAllByTestId('post')[0]).getByRole('button', { name: /React 👍, 1 so far/ }).getAttribute('aria-pressed')).toBe('true'));
    expect(screen.queryByRole('menu')).toBeNull();
    expect(backend.callsOf('react')[0]).toMatchObject({ reaction: '👍', on: true });

    // Taking it back removes the button; focus goes to "add a reaction", not to the page.
    await user.click(within(screen.getAllByTestId('post')[0]).getByRole('button', { name: /React 👍, 1 so far/ }));
    await waitFor(() => expect(within(screen.getAllByTestId('post')[0]).queryByRole('button', { name: /React 👍/ })).toBeNull());
    expect(backend.callsOf('react')[1]).toMatchObject({ reaction: '👍', on: false });
    expect(document.activeElement?.getAttribute('aria-label')).toBe('Add a reaction');
  });

  it('works the reaction menu from the keyboard', async () => {
    const user = userEvent.setup();
    const backend = mock();
    await renderView(ThreadPage, { id: backend.ids.question }, {}, backend);
    const first = (await screen.findAllByTestId('post'))[0];
    within(first).getByRole('button', { name: 'Add a reaction' }).focus();
    await user.keyboard('{Enter}');
    expect(document.activeElement?.getAttribute('aria-label')).toBe('React 👍');
    await user.keyboard('{ArrowRight}');
    expect(document.activeElement?.getAttribute('aria-label')).toBe('React ❤️');
    await user.keyboard('{ArrowLeft}{ArrowLeft}');
    expect(document.activeElement?.getAttribute('aria-label')).toBe('React ❓');
    // Escape closes without reacting and gives focus back to the button.
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('menu')).toBeNull();
    expect(document.activeElement?.getAttribute('aria-label')).toBe('Add a reaction');
    expect(backend.callsOf('react')).toEqual([]);
    // Enter on an item reacts with it.
    await user.keyboard('{Enter}{End}{Enter}');
    await waitFor(() => expect(within(screen.getAllByTestId('post')[0]).getByRole('button', { name: /React ❓, 1 so far/ })).toBeTruthy());
    expect(backend.callsOf('react')).toEqual([expect.objectContaining({ reaction: '❓', on: true })]);
    expect(document.activeElement?.getAttribute('aria-label')).toBe('Add a reaction');
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

  it('shows the top of a long thread first and renders the rest after the first paint', async () => {
    const backend = mock();
    const thread = backend.ids.question;
    for (let i = 0; i < 58; i++) backend.remoteReply(thread, backend.ids.ada, `Long reply number ${i + 1}`);
    await renderView(ThreadPage, { id: thread }, {}, backend);
    await screen.findByRole('heading', { level: 1, name: 'Is a moved value copied?' });
    const list = screen.getByRole('list', { name: 'Posts' });
    // 60 posts: as many as the window can show with the thread (jsdom's window is 768 px
    // high: 10), marked busy while the rest are still coming.
    expect(list.dataset.first).toBe('10');
    expect(screen.getAllByTestId('post')).toHaveLength(10);
    expect(list.getAttribute('aria-busy')).toBe('true');
    await waitFor(() => expect(screen.getAllByTestId('post')).toHaveLength(60));
    expect(list.getAttribute('aria-busy')).toBe('false');
    expect(screen.getAllByTestId('post')[59].textContent).toContain('Long reply number 58');
  });

  it('renders up to a linked post at once and focuses it, once', async () => {
    const user = userEvent.setup();
    const backend = mock();
    const thread = backend.ids.question;
    let target = '';
    for (let i = 0; i < 58; i++) {
      const id = backend.remoteReply(thread, backend.ids.ada, `Long reply number ${i + 1}`);
      if (i === 44) target = id;
    }
    await renderView(ThreadPage, { id: thread, post: target }, {}, backend);
    await waitFor(() => expect(document.activeElement?.id).toBe(`post-${target}`));
    expect(document.activeElement?.textContent).toContain('Long reply number 45');
    // A reply reloads the thread; focus stays in the reply box instead of jumping back.
    const box = screen.getByLabelText('Your reply');
    await user.type(box, 'Another one.');
    await user.click(screen.getByTestId('send-reply'));
    await waitFor(() => expect(screen.getAllByTestId('post')).toHaveLength(61));
    expect(document.activeElement?.id).not.toBe(`post-${target}`);
  });

  it('replies to a post: says whom the reply answers, before sending and on the new post', async () => {
    const user = userEvent.setup();
    const backend = mock();
    const thread = backend.ids.question;
    await renderView(ThreadPage, { id: thread }, {}, backend);
    const first = (await screen.findAllByTestId('post'))[0] as HTMLElement;
    const author = first.querySelector('.meta strong')?.textContent ?? '';
    await user.click(within(first).getByRole('button', { name: 'Reply' }));
    expect(screen.getByText(`Replying to ${author}`)).toBeTruthy();
    await user.type(screen.getByLabelText('Your reply'), 'To the question itself.');
    await user.click(screen.getByTestId('send-reply'));
    await waitFor(() => expect(screen.getAllByTestId('post')).toHaveLength(3));
    expect(screen.getAllByTestId('post')[2].textContent).toContain(`In reply to ${author}`);
    expect(backend.callsOf('reply')[0]).toMatchObject({ reply_to: expect.any(String) });
    expect(screen.queryByText(`Replying to ${author}`)).toBeNull();
  });
});
