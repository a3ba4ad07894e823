import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('doubles its ceiling per attempt, capped at backoffMaxMs', () => {
    const b = new Backoff({ backoffMinMs: 100, backoffMaxMs: 1000, random: () => 0.999999 });
    const delays = Array.from({ length: 7 }, () => b.next());
    expect(delays).toEqual([99, 199, 399, 799, 999, 999, 999]);
  });

  it('jitters over the whole range [0, ceiling)', () => {
    const b = new Backoff({ backoffMinMs: 1000, backoffMaxMs: 1000 });
    const delays = Array.from({ length: 200 }, () => b.next());
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(1000);
    expect(new Set(delays).size).toBeGreaterThan(50); // not a constant
    expect(Math.min(...delays)).toBeLessThan(300);
    expect(Math.max(...delays)).toBeGreaterThan(700);
  });

  it('reset() starts over; max() is the cap', () => {
    const b = new Backoff({ backoffMinMs: 10, backoffMaxMs: 50_000, random: () => 0.5 });
    for (let i = 0; i < 40; i++) b.next(); // a huge exponent stays finite
    expect(b.ceilingMs()).toBe(50_000);
    b.reset();
    expect(b.next()).toBe(5);
    expect(b.max()).toBe(50_000);
  });

  it('rejects nonsense bounds', () => {
    expect(() => new Backoff({ backoffMinMs: 0, backoffMaxMs: 10 })).toThrow(RangeError);
    expect(() => new Backoff({ backoffMinMs: 20, backoffMaxMs: 10 })).toThrow(RangeError);
  });
});
