// CodeMirror setup, loaded on demand (only views that edit text pull it in, so the app's first
// paint does not wait for the editor's code).

import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { markdown } from '@codemirror/lang-markdown';
import { Annotation, EditorState, Transaction } from '@codemirror/state';
import { EditorView, keymap, placeholder as placeholderExt } from '@codemirror/view';
import type { Splice } from './bindings';
import { minimalChange } from './text';

/** Marks transactions that apply changes made elsewhere (never sent back as splices). */
export const remoteChange = Annotation.define<boolean>();

/** Turns a local transaction's changes into splices to apply in order. */
export function splicesOf(tr: Transaction): Splice[] {
  const out: Splice[] = [];
  // Applied left to right, each change starts at its position in the new document (every
  // earlier change has been applied, this one not yet): `fromB`.
  tr.changes.iterChanges((fromA, toA, fromB, _toB, inserted) => {
    out.push({ pos: fromB, delete: toA - fromA, insert: inserted.toString() });
  });
  return out;
}

/** What the editor component needs. */
export interface EditorHandle {
  view: EditorView;
  getText(): string;
  setText(text: string): boolean;
  getSelection(): { anchor: number; head: number };
  select(anchor: number, head?: number): void;
  typeAt(from: number, to: number, insert: string): void;
  destroy(): void;
}

export function createEditor(options: {
  parent: HTMLElement;
  doc: string;
  label: string;
  placeholder: string;
  onsplices: (splices: Splice[]) => void;
}): EditorHandle {
  const view = new EditorView({
    parent: options.parent,
    state: EditorState.create({
      doc: options.doc,
      extensions: [
        history(),
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
        markdown(),
        EditorView.lineWrapping,
        placeholderExt(options.placeholder),
        EditorView.contentAttributes.of({ 'aria-label': options.label, 'aria-multiline': 'true' }),
        EditorView.updateListener.of((u) => {
          if (!u.docChanged) return;
          const splices: Splice[] = [];
          for (const tr of u.transactions) {
            if (!tr.docChanged || tr.annotation(remoteChange)) continue;
            splices.push(...splicesOf(tr));
          }
          if (splices.length) options.onsplices(splices);
        }),
      ],
    }),
  });
  return {
    view,
    getText: () => view.state.doc.toString(),
    setText(text: string): boolean {
      const change = minimalChange(view.state.doc.toString(), text);
      if (!change) return false;
      // The selection is mapped through the change, so the cursor stays on its text.
      view.dispatch({
        changes: change,
        annotations: [remoteChange.of(true), Transaction.addToHistory.of(false)],
      });
      return true;
    },
    getSelection() {
      const s = view.state.selection.main;
      return { anchor: s.anchor, head: s.head };
    },
    select(anchor: number, head = anchor) {
      view.dispatch({ selection: { anchor, head } });
    },
    typeAt(from: number, to: number, insert: string) {
      view.dispatch({ changes: { from, to, insert }, userEvent: 'input.type' });
    },
    destroy: () => view.destroy(),
  };
}
