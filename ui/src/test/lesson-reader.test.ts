import { fireEvent, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import LessonReader from '../lib/views/LessonReader.svelte';
import { mock, renderView, selectText } from './helpers';

describe('lesson reader', () => {
  it('highlights anchored passages and opens their thread from the highlight', async () => {
    const user = userEvent.setup();
    const backend = mock();
    await renderView(LessonReader, { id: backend.ids.ownership }, {}, backend);
    const body = await screen.findByTestId('lesson-body');
    await waitFor(() => expect(body.querySelector('mark.anchor')).not.toBeNull());
    expect(body.querySelector('mark.anchor')?.textContent).toBe('Each value in Rust has a single owner');
    await user.click(body.querySelector('mark.anchor') as HTMLElement);
    const thread = await screen.findByTestId('thread-detail');
    expect(within(thread).getByRole('heading', { name: 'Is a moved value copied?' })).toBeTruthy();
    expect(backend.callsOf('thread').length).toBeGreaterThan(0);
  });

  it('asks about a selected passage: the new thread is anchored at its UTF-16 offsets', async () => {
    const user = userEvent.setup();
    const backend = mock();
    const id = backend.ids.ownership;
    await renderView(LessonReader, { id }, {}, backend);
    const body = await screen.findByTestId('lesson-body');
    await waitFor(() => expect(body.textContent).toContain('transfers ownership'));
    // Selected once the lesson's highlights are drawn (drawing them replaces the text).
    await waitFor(() => expect(body.querySelector('mark.anchor')).not.toBeNull());

    // The reader selects rendered text that spans Markdown emphasis in the source.
    selectText(body, 'transfers ownership to the new variable');
    await fireEvent.mouseUp(body);
    await user.click(await screen.findByTestId('ask-about-this'));
    const form = await screen.findByTestId('new-thread-form');
    expect(form.textContent).toContain('transfers **ownership** to the new variable');
    await user.type(within(form).getByLabelText('Title'), 'Why can the old variable not be used?');
    await user.type(within(form).getByLabelText('Your post'), 'What makes it invalid?');
    await user.click(within(form).getByRole('button', { name: 'Post' }));

    await screen.findByRole('heading', { name: 'Why can the old variable not be used?' });
    const source = backend.lessonBody(id);
    const start = source.indexOf('transfers **ownership** to the new variable');
    expect(backend.callsOf('new_thread')).toEqual([
      {
        space: backend.cohort,
        kind: 'question',
        title: 'Why can the old variable not be used?',
        body: 'What makes it invalid?',
        lesson: id,
        anchor: [start, start + 'transfers **ownership** to the new variable'.length],
      },
    ]);
    // The new passage is highlighted too.
    await waitFor(() =>
      expect([...body.querySelectorAll('mark.anchor')].map((m) => m.textContent).join('')).toContain('transfers ownership to the new variable'),
    );
  });

  it('asks for a longer selection when the selected text is not unique', async () => {
    const backend = mock();
    await renderView(LessonReader, { id: backend.ids.ownership }, {}, backend);
    const body = await screen.findByTestId('lesson-body');
    await waitFor(() => expect(body.textContent).toContain('the value is dropped'));
    await waitFor(() => expect(body.querySelector('mark.anchor')).not.toBeNull());
    selectText(body, 'the value');
    await fireEvent.mouseUp(body);
    await fireEvent.click(await screen.findByTestId('ask-about-this'));
    expect((await screen.findByRole('alert')).textContent).toContain('appears more than once');
    expect(screen.queryByTestId('new-thread-form')).toBeNull();
  });

  it('shows a "passage deleted" badge when a remote edit removes an anchored passage', async () => {
    const backend = mock();
    const id = backend.ids.ownership;
    await renderView(LessonReader, { id }, {}, backend);
    const body = await screen.findByTestId('lesson-body');
    await waitFor(() => expect(body.querySelector('mark.anchor')).not.toBeNull());
    const text = backend.lessonBody(id);
    const at = text.indexOf('Each value in Rust has a single owner.');
    backend.remoteSplice(id, { pos: at, delete: 'Each value in Rust has a single owner.'.length, insert: '' });
    const list = await screen.findByTestId('lesson-threads');
    await waitFor(() => expect(within(list).getByText('Passage deleted')).toBeTruthy());
    expect(body.querySelector('mark.anchor')).toBeNull();
  });

  it('ticks the checklist, answers a self-check question and marks the lesson complete', async () => {
    const user = userEvent.setup();
    const backend = mock();
    const id = backend.ids.ownership;
    await renderView(LessonReader, { id }, {}, backend);
    await user.click(await screen.findByLabelText('Run the examples'));
    await waitFor(() => expect(backend.callsOf('tick')).toHaveLength(1));
    expect(backend.callsOf('tick')[0]).toMatchObject({ lesson: id, done: true });

    const question = screen.getAllByTestId('self-check')[0];
    await user.type(within(question).getByLabelText('Your answer'), 'It is dropped');
    await user.click(within(question).getByRole('button', { name: 'Check answer' }));
    await within(question).findByText('The value is dropped.');
    expect(backend.callsOf('answer')[0]).toMatchObject({ lesson: id, answer: 'It is dropped' });

    await user.click(screen.getByTestId('mark-complete'));
    await screen.findByText(/Completed/);
    expect(backend.callsOf('complete_lesson')).toEqual([{ lesson: id, done: true }]);
  });
});
