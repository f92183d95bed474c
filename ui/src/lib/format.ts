// Dates and labels for people.

import type { DocKind, ThreadKind, Timestamp } from './bindings';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

/** "3 minutes ago", "yesterday"... relative to `now`. */
export function ago(at: Timestamp | null | undefined, now: number = Date.now()): string {
  if (at == null) return 'never';
  const s = Math.round((now - at) / 1000);
  if (s < 45) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'} ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} hour${h === 1 ? '' : 's'} ago`;
  const d = Math.round(h / 24);
  if (d === 1) return 'yesterday';
  if (d < 30) return `${d} days ago`;
  return dateOnly.format(at);
}

/** "1 lesson", "3 lessons": a number with its noun (`plural` when it is not the noun + "s"). */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

/** A full date and time. */
export function when(at: Timestamp | null | undefined): string {
  return at == null ? '' : dateTime.format(at);
}

/** A date. */
export function day(at: Timestamp | null | undefined): string {
  return at == null ? '' : dateOnly.format(at);
}

export const THREAD_KINDS: ReadonlyArray<{ value: ThreadKind; label: string }> = [
  { value: 'question', label: 'Question' },
  { value: 'idea', label: 'Idea' },
  { value: 'how_to', label: 'How-to' },
];

export function threadKindLabel(kind: unknown): string {
  return THREAD_KINDS.find((k) => k.value === kind)?.label ?? 'Thread';
}

export function docKindLabel(kind: DocKind): string {
  switch (kind) {
    case 'journal_entry':
      return 'Journal';
    default:
      return kind.charAt(0).toUpperCase() + kind.slice(1);
  }
}

/** Reads a field of a summary's `info` object. */
export function infoField(info: unknown, key: string): unknown {
  return info && typeof info === 'object' && !Array.isArray(info) ? (info as Record<string, unknown>)[key] : undefined;
}
