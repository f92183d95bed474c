import { afterEach, describe, expect, it } from 'vitest';
import { INTERACTIVE, markInteractive } from './perf';

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
  afterEach(() => performance.clearMarks(INTERACTIVE));

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
});
