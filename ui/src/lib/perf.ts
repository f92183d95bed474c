// Performance marks the desktop and web benchmarks read (tests/desktop/bench.mjs,
// tests/e2e/bench.mjs). Marks cost nothing measurable and are only ever set once.

/** Name of the mark set when the first view has rendered its data after launch. */
export const INTERACTIVE = 'cohort:interactive';

/**
 * When the launch showed something and when it was usable, in ms since the Unix epoch (the
 * page's `performance.timeOrigin` plus each entry's time): what the desktop shell logs.
 */
export interface StartupMarks {
  /** First contentful paint. */
  painted_at_ms: number | null;
  /** The {@link INTERACTIVE} mark. */
  interactive_at_ms: number | null;
}

let listeners: Array<(marks: StartupMarks) => void> = [];

/** Calls `cb` once with the startup marks, when the app has become interactive. */
export function onStartup(cb: (marks: StartupMarks) => void): () => void {
  listeners.push(cb);
  return () => {
    listeners = listeners.filter((l) => l !== cb);
  };
}

function startupMarks(): StartupMarks {
  const at = (entry: PerformanceEntry | undefined) => (entry ? performance.timeOrigin + entry.startTime : null);
  const paints = typeof performance.getEntriesByType === 'function' ? performance.getEntriesByType('paint') : [];
  return {
    painted_at_ms: at(paints.find((e) => e.name === 'first-contentful-paint')),
    interactive_at_ms: at(performance.getEntriesByName(INTERACTIVE, 'mark')[0]),
  };
}

/**
 * Marks the app interactive once, on the frame after the first view has rendered the list
 * it loaded (the start view: a cohort's home, or the journal when there is no cohort), and
 * hands the startup marks to {@link onStartup} listeners.
 */
export function markInteractive(): void {
  if (typeof performance === 'undefined' || typeof performance.mark !== 'function') return;
  if (performance.getEntriesByName(INTERACTIVE, 'mark').length > 0) return;
  const mark = () => {
    if (performance.getEntriesByName(INTERACTIVE, 'mark').length > 0) return;
    performance.mark(INTERACTIVE);
    const marks = startupMarks();
    const waiting = listeners;
    listeners = [];
    for (const l of waiting) l(marks);
  };
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(mark);
  else mark();
}
