// Performance marks the desktop and web benchmarks read (tests/desktop/bench.mjs,
// tests/e2e/bench.mjs). Marks cost nothing measurable and are only ever set once.

/** Name of the mark set when the first view has rendered its data after launch. */
export const INTERACTIVE = 'cohort:interactive';

/**
 * Marks the app interactive once, on the frame after the first view has rendered the list
 * it loaded (the start view: a cohort's home, or the journal when there is no cohort).
 */
export function markInteractive(): void {
  if (typeof performance === 'undefined' || typeof performance.mark !== 'function') return;
  if (performance.getEntriesByName(INTERACTIVE, 'mark').length > 0) return;
  const mark = () => {
    if (performance.getEntriesByName(INTERACTIVE, 'mark').length === 0) performance.mark(INTERACTIVE);
  };
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(mark);
  else mark();
}
