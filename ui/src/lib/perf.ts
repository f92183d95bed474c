// Performance marks the desktop and web benchmarks read (tests/desktop/bench.mjs,
// tests/e2e/bench.mjs). Marks cost nothing measurable and are only ever set once.

/** Name of the mark set when the first view has rendered its data after launch. */
export const INTERACTIVE = 'cohort:interactive';
/** Name of the mark set when the app's script starts running. */
export const SCRIPT = 'cohort:script';
/** Name of the mark set when the app has loaded who you are and your spaces. */
export const DATA = 'cohort:data';
/** Name of the mark set when the start view is on the page and asks for its data. */
export const VIEW = 'cohort:view';
/** Name of the mark set when the start view has put the data it loaded in the DOM. */
export const RENDERED = 'cohort:rendered';

/**
 * When the launch showed something and when it was usable, in ms since the Unix epoch (the
 * page's `performance.timeOrigin` plus each entry's time): what the desktop shell logs.
 */
export interface StartupMarks {
  /** The page's time origin: when the web view began loading it. */
  page_at_ms: number | null;
  /** First contentful paint. */
  painted_at_ms: number | null;
  /** The {@link SCRIPT} mark. */
  script_at_ms: number | null;
  /** The {@link DATA} mark. */
  data_at_ms: number | null;
  /** The {@link VIEW} mark. */
  view_at_ms: number | null;
  /** The {@link RENDERED} mark. */
  rendered_at_ms: number | null;
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

/** How long the startup report waits for the page's first paint after the interactive mark. */
const PAINT_WAIT_MS = 3_000;

function firstPaint(): PerformanceEntry | undefined {
  const paints = typeof performance.getEntriesByType === 'function' ? performance.getEntriesByType('paint') : [];
  return paints.find((e) => e.name === 'first-contentful-paint');
}

/**
 * The startup report. The start view is interactive once it is on screen: when the page's
 * first paint came after the interactive mark (the view was ready before the window first
 * showed anything), interactive is that paint.
 */
export function startupMarksFrom(origin: number, painted: number | null, mark: (name: string) => number | null): StartupMarks {
  const interactive = mark(INTERACTIVE);
  return {
    page_at_ms: origin,
    painted_at_ms: painted,
    script_at_ms: mark(SCRIPT),
    data_at_ms: mark(DATA),
    view_at_ms: mark(VIEW),
    rendered_at_ms: mark(RENDERED),
    interactive_at_ms: interactive === null || painted === null ? interactive : Math.max(interactive, painted),
  };
}

function startupMarks(): StartupMarks {
  const at = (entry: PerformanceEntry | undefined) => (entry ? performance.timeOrigin + entry.startTime : null);
  return startupMarksFrom(performance.timeOrigin, at(firstPaint()), (name) => at(performance.getEntriesByName(name, 'mark')[0]));
}

/** Calls `then` once the page has painted for the first time (at once where that is not observable). */
function afterFirstPaint(then: () => void): void {
  const observable =
    typeof PerformanceObserver === 'function' && (PerformanceObserver.supportedEntryTypes ?? []).includes('paint');
  if (firstPaint() || !observable) {
    then();
    return;
  }
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    observer.disconnect();
    clearTimeout(timer);
    then();
  };
  const observer = new PerformanceObserver(() => {
    if (firstPaint()) finish();
  });
  const timer = setTimeout(finish, PAINT_WAIT_MS);
  observer.observe({ type: 'paint', buffered: true });
}

/** Sets the mark `name` once (a step of the launch the startup report names). */
export function markOnce(name: string): void {
  if (typeof performance === 'undefined' || typeof performance.mark !== 'function') return;
  if (performance.getEntriesByName(name, 'mark').length === 0) performance.mark(name);
}

/**
 * Marks the app interactive once, on the frame after the first view has rendered the list
 * it loaded (and sets {@link RENDERED} at the call, the DOM being updated) (the start view: a cohort's home, or the journal when there is no cohort), and
 * hands the startup marks to {@link onStartup} listeners once the page has painted.
 */
export function markInteractive(): void {
  if (typeof performance === 'undefined' || typeof performance.mark !== 'function') return;
  if (performance.getEntriesByName(INTERACTIVE, 'mark').length > 0) return;
  markOnce(RENDERED);
  const mark = () => {
    if (performance.getEntriesByName(INTERACTIVE, 'mark').length > 0) return;
    performance.mark(INTERACTIVE);
    // The report names the first paint, which may come with the frame this mark precedes.
    afterFirstPaint(() => {
      const marks = startupMarks();
      const waiting = listeners;
      listeners = [];
      for (const l of waiting) l(marks);
    });
  };
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(mark);
  else mark();
}
