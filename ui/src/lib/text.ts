// Text helpers. JavaScript strings are sequences of UTF-16 code units, which is exactly how the
// core counts splice and anchor offsets, so string indices are used directly.

import type { Splice } from './bindings';

/** Applies one splice to `text`. Throws on a splice outside the text. */
export function applySplice(text: string, s: Splice): string {
  if (s.pos < 0 || s.delete < 0 || s.pos + s.delete > text.length) {
    throw new RangeError(`splice ${s.pos}..${s.pos + s.delete} is outside a text of ${text.length} code units`);
  }
  return text.slice(0, s.pos) + s.insert + text.slice(s.pos + s.delete);
}

/** Applies splices in order. */
export function applySplices(text: string, splices: readonly Splice[]): string {
  return splices.reduce(applySplice, text);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * The smallest single replacement that turns `from` into `to` (common prefix and suffix kept),
 * never splitting a surrogate pair. `null` when the texts are equal.
 */
export function minimalChange(from: string, to: string): { from: number; to: number; insert: string } | null {
  if (from === to) return null;
  const max = Math.min(from.length, to.length);
  let start = 0;
  while (start < max && from.charCodeAt(start) === to.charCodeAt(start)) start++;
  if (start > 0 && isHighSurrogate(from.charCodeAt(start - 1))) start--;
  let endFrom = from.length;
  let endTo = to.length;
  while (endFrom > start && endTo > start && from.charCodeAt(endFrom - 1) === to.charCodeAt(endTo - 1)) {
    endFrom--;
    endTo--;
  }
  if (endFrom < from.length && isLowSurrogate(from.charCodeAt(endFrom))) {
    endFrom++;
    endTo++;
  }
  return { from: start, to: endFrom, insert: to.slice(start, endTo) };
}

/**
 * Where `[start, end)` is after `splice`, following the core's anchor rules: text inserted at the
 * start goes before the passage, at the end after it; when every character of the passage is
 * deleted the range is `null` (detached).
 */
export function transformRange(range: readonly [number, number], s: Splice): [number, number] | null {
  const [start, end] = range;
  const delEnd = s.pos + s.delete;
  const ins = s.insert.length;
  const newStart = start < s.pos ? start : start >= delEnd ? start - s.delete + ins : s.pos + ins;
  const newEnd = end <= s.pos ? end : end >= delEnd ? end - s.delete + ins : s.pos;
  return newEnd > newStart ? [newStart, newEnd] : null;
}

/** Converts UTF-8 byte offsets within `text` to string (UTF-16) indices. */
export function utf8ToUtf16Offsets(text: string, offsets: readonly number[]): number[] {
  const wanted = [...new Set(offsets)].sort((a, b) => a - b);
  const map = new Map<number, number>();
  let bytes = 0;
  let i = 0;
  let w = 0;
  while (w < wanted.length) {
    while (w < wanted.length && wanted[w] <= bytes) {
      map.set(wanted[w], i);
      w++;
    }
    if (i >= text.length) break;
    const cp = text.codePointAt(i) ?? 0;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += cp >= 0x10000 ? 2 : 1;
  }
  return offsets.map((o) => map.get(o) ?? text.length);
}

/** A piece of a search snippet. */
export interface SnippetPart {
  text: string;
  mark: boolean;
}

const MARK_START = '\u0002';
const MARK_END = '\u0003';

/**
 * Splits a search snippet into plain and matched parts. Understands both the store's inline
 * markers (U+0002 ... U+0003) and the API's plain snippet with UTF-8 byte `highlights`.
 */
export function snippetParts(snippet: string, highlights: ReadonlyArray<readonly [number, number]> = []): SnippetPart[] {
  const parts: SnippetPart[] = [];
  const push = (text: string, mark: boolean) => {
    if (text) parts.push({ text, mark });
  };
  if (snippet.includes(MARK_START)) {
    let rest = snippet;
    while (rest) {
      const open = rest.indexOf(MARK_START);
      if (open < 0) {
        push(rest.replaceAll(MARK_END, ''), false);
        break;
      }
      push(rest.slice(0, open).replaceAll(MARK_END, ''), false);
      const close = rest.indexOf(MARK_END, open + 1);
      const end = close < 0 ? rest.length : close;
      push(rest.slice(open + 1, end).replaceAll(MARK_START, ''), true);
      rest = close < 0 ? '' : rest.slice(close + 1);
    }
    return parts;
  }
  const sorted = [...highlights].filter((h) => h[1] > h[0]).sort((a, b) => a[0] - b[0]);
  const flat = utf8ToUtf16Offsets(snippet, sorted.flatMap((h) => [h[0], h[1]]));
  let at = 0;
  for (let k = 0; k < sorted.length; k++) {
    const start = Math.max(flat[2 * k], at);
    const end = flat[2 * k + 1];
    if (end <= start) continue;
    push(snippet.slice(at, start), false);
    push(snippet.slice(start, end), true);
    at = end;
  }
  push(snippet.slice(at), false);
  return parts;
}

/** Where a selected passage of the rendered lesson is in its Markdown source. */
export type Located = { start: number; end: number } | { problem: 'empty' | 'missing' | 'ambiguous' };

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Finds the text a reader selected in the rendered lesson within the lesson's Markdown body.
 * An exact unique match wins; otherwise the words are matched allowing Markdown syntax
 * (emphasis, links, list markers, headings) and any whitespace between them. Returns a
 * problem when nothing or more than one passage matches.
 */
export function locatePassage(body: string, selected: string): Located {
  const wanted = selected.trim();
  if (!wanted) return { problem: 'empty' };
  const first = body.indexOf(wanted);
  if (first >= 0) {
    if (body.indexOf(wanted, first + 1) >= 0) return { problem: 'ambiguous' };
    return { start: first, end: first + wanted.length };
  }
  const words = wanted.split(/\s+/).filter(Boolean);
  // Between words: whitespace, emphasis and code markers, list/heading/quote markers, and the
  // `](url)` tail of a link.
  const gap = String.raw`(?:[\s*_\x60~#>|\[\]!+-]|\]\([^)\s]*\)|\d+\.)+`;
  const inner = String.raw`[*_\x60~]*`;
  const wordPattern = (w: string) => [...w].map(escapeRegExp).join(inner);
  const re = new RegExp(words.map(wordPattern).join(gap), 'g');
  const matches = [...body.matchAll(re)];
  if (matches.length === 0) return { problem: 'missing' };
  if (matches.length > 1) return { problem: 'ambiguous' };
  const m = matches[0];
  return { start: m.index, end: m.index + m[0].length };
}

/** Short form of a 32-hex id for display. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}
