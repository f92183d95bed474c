import { afterEach, describe, expect, it } from 'vitest';
import {
  DATA,
  INTERACTIVE,
  markInteractive,
  markOnce,
  onStartup,
  RENDERED,
  SCRIPT,
  startupMarksFrom,
  VIEW,
  type StartupMarks,
} from './perf';

function marks() {
  return performance.getEntriesByName(INTERACTIVE, 'mark');
}

async function nextFrame() {
  await new Promise<void>((resolve) =>
    typeof requestAnimationFrame === 'function' ? requestAnimationFrame(() => resolve()) : resolve(),
  );
  await new Promise<void>((resolve) => setTimeout(resolve, 20));
}

describe('markInteractive', () => {
  afterEach(() => {
    performance.clearMarks(INTERACTIVE);
    performance.clearMarks(SCRIPT);
    performance.clearMarks(DATA);
    performance.clearMarks(VIEW);
    performance.clearMarks(RENDERED);
  });

  it('sets the interactive mark once, however often it is called', async () => {
    expect(marks()).toHaveLength(0);
    markInteractive();
    await nextFrame();
    expect(marks()).toHaveLength(1);
    const first = marks()[0]?.startTime;
    markInteractive();
    markInteractive();
    await nextFrame();
    expect(marks()).toHaveLength(1);
    expect(marks()[0]?.startTime).toBe(first);
  });

  it('hands the startup marks to listeners once, as wall-clock times', async () => {
    const got: StartupMarks[] = [];
    const off = onStartup((m) => got.push(m));
    const before = performance.timeOrigin + performance.now();
    markInteractive();
    await nextFrame();
    markInteractive();
    await nextFrame();
    off();
    expect(got).toHaveLength(1);
    const at = got[0]?.interactive_at_ms ?? 0;
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(performance.timeOrigin + performance.now());
    // jsdom paints nothing: no first contentful paint to report.
    expect(got[0]?.painted_at_ms).toBeNull();
    expect(got[0]?.page_at_ms).toBe(performance.timeOrigin);
  });

  it('names the steps of the launch that were marked, in order', async () => {
    const got: StartupMarks[] = [];
    const off = onStartup((m) => got.push(m));
    markOnce(SCRIPT);
    markOnce(DATA);
    markOnce(SCRIPT);
    markOnce(VIEW);
    markInteractive();
    await nextFrame();
    off();
    const m = got[0];
    expect(m?.script_at_ms).not.toBeNull();
    expect(m?.data_at_ms).not.toBeNull();
    expect(performance.getEntriesByName(SCRIPT, 'mark')).toHaveLength(1);
    const steps = [m?.script_at_ms, m?.data_at_ms, m?.view_at_ms, m?.rendered_at_ms, m?.interactive_at_ms];
    expect(steps.every((t) => typeof t === 'number')).toBe(true);
    expect([...(steps as number[])].sort((a, b) => a - b)).toEqual(steps);
  });
});

describe('startupMarksFrom', () => {
  const marks = (at: Record<string, number>) => (name: string) => at[name] ?? null;

  it('keeps the interactive mark when the window painted before it', () => {
    const m = startupMarksFrom(1000, 1300, marks({ [SCRIPT]: 1350, [INTERACTIVE]: 1500 }));
    expect(m).toMatchObject({ page_at_ms: 1000, painted_at_ms: 1300, script_at_ms: 1350, interactive_at_ms: 1500 });
  });

  it('counts a view ready before the first paint as interactive at that paint', () => {
    const m = startupMarksFrom(1000, 1600, marks({ [INTERACTIVE]: 1500 }));
    expect(m.interactive_at_ms).toBe(1600);
    expect(startupMarksFrom(1000, null, marks({ [INTERACTIVE]: 1500 })).interactive_at_ms).toBe(1500);
    expect(startupMarksFrom(1000, 1600, marks({})).interactive_at_ms).toBeNull();
  });
});
