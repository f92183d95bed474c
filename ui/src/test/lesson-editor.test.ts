import { screen, waitFor } from '@testing-library/svelte';
import { EditorView } from '@codemirror/view';
import { describe, expect, it } from 'vitest';
import LessonEditor from '../lib/views/LessonEditor.svelte';
import { mock, renderView } from './helpers';

async function openEditor() {
  const backend = mock();
  const id = backend.ids.ownership;
  await renderView(LessonEditor, { id }, {}, backend);
  const host = await screen.findByTestId('lesson-body-editor');
  await waitFor(() => expect(host.dataset.ready).toBe('true'));
  const view = EditorView.findFromDOM(host.querySelector('.cm-editor') as HTMLElement);
  if (!view) throw new Error('no editor');
  return { backend, id, view };
}

describe('lesson editor', () => {
  it('sends local edits to the core as ordered UTF-16 splices', async () => {
    const { backend, id, view } = await openEditor();
    const before = backend.lessonBody(id);
    const at = before.indexOf('single owner');
    // Two edits in one transaction and one after it: the core must end with the editor's text.
    view.dispatch({ changes: [{ from: 0, to: 0, insert: '😀 ' }, { from: at, to: at + 6, insert: 'sole' }], userEvent: 'input.type' });
    view.dispatch({ changes: { from: view.state.doc.length, insert: '\nThe end.' }, userEvent: 'input.type' });
    await waitFor(() => expect(backend.lessonBody(id)).toBe(view.state.doc.toString()));
    const splices = backend.callsOf('splice_lesson').flatMap((c) => c.splices);
    expect(splices[0]).toEqual({ pos: 0, delete: 0, insert: '😀 ' });
    // The second change is expressed after the first was applied: shifted by three code units.
    expect(splices[1]).toEqual({ pos: at + 3, delete: 6, insert: 'sole' });
    await screen.findByText('All changes saved');
  });

  it('shows a remote edit without moving the cursor', async () => {
    const { backend, id, view } = await openEditor();
    const text = view.state.doc.toString();
    const cursor = text.indexOf('goes out of scope');
    view.dispatch({ selection: { anchor: cursor } });
    // Someone else inserts text before the cursor.
    backend.remoteSplice(id, { pos: 0, delete: 0, insert: '> Updated for Rust 2024\n\n' });
    await waitFor(() => expect(view.state.doc.toString()).toBe(backend.lessonBody(id)));
    // The cursor is still in front of the same words.
    const head = view.state.selection.main.head;
    expect(view.state.doc.sliceString(head, head + 'goes out of scope'.length)).toBe('goes out of scope');
    // Applying the remote edit sent nothing back.
    expect(backend.callsOf('splice_lesson')).toHaveLength(0);
  });

  it('keeps the user’s text when the core refuses a batch, by sending the whole body', async () => {
    const { backend, id, view } = await openEditor();
    backend.failNext('splice_lesson', 'invalid_edit', 'splice outside the text');
    view.dispatch({ changes: { from: 0, insert: 'Intro. ' }, userEvent: 'input.type' });
    await waitFor(() => expect(backend.callsOf('update_lesson')).toHaveLength(1));
    expect(backend.lessonBody(id)).toBe(view.state.doc.toString());
    expect(backend.lessonBody(id).startsWith('Intro. ')).toBe(true);
  });

  it('updates the preview once typing pauses, not on every keystroke', async () => {
    const { view } = await openEditor();
    const preview = document.querySelector('.preview') as HTMLElement;
    const rendersBefore = preview.innerHTML;
    for (const ch of 'Fresh words') {
      view.dispatch({ changes: { from: view.state.doc.length, insert: ch }, userEvent: 'input.type' });
    }
    // Still the old rendering right after the keystrokes...
    expect(preview.innerHTML).toBe(rendersBefore);
    // ...and the new text shortly after they stop.
    await waitFor(() => expect(preview.textContent).toContain('Fresh words'));
  });
});
