import { describe, expect, it } from 'vitest';
import { IdleCollector } from './idle-gc.js';

/** A WeakRef to an object nothing else holds: it empties only when a full collection runs. */
function garbage(): WeakRef<object> {
  return new WeakRef({ big: new Array(10_000).fill('x') });
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('IdleCollector', () => {
  it('collects garbage once, the delay after it was scheduled', async () => {
    const collector = new IdleCollector(50);
    const ref = garbage();
    collector.schedule();
    collector.schedule();
    await tick(0); // a WeakRef target lives at least until the current job ends
    expect(ref.deref()).toBeDefined();
    await tick(200);
    expect(ref.deref()).toBeUndefined();
    collector.stop();
  });

  it('runs one collection per quiet spell, and none once stopped', async () => {
    let runs = 0;
    // Counts calls: this asserts the schedule, the test above the collection itself.
    const collector = new IdleCollector(20, () => runs++);
    collector.schedule();
    collector.schedule();
    await tick(100);
    expect(runs).toBe(1);
    collector.schedule();
    collector.stop();
    await tick(100);
    expect(runs).toBe(1);
  });
});
