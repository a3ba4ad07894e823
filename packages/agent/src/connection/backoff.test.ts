import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('grows the top of its range 1.5x per attempt from twice the floor, capped at backoffMaxMs', () => {
    const b = new Backoff({ backoffMinMs: 100, backoffMaxMs: 1000, random: () => 0.999999 });
    const delays = Array.from({ length: 8 }, () => b.next());
    expect(delays).toEqual([199, 299, 449, 674, 999, 999, 999, 999]);
  });

  it('never goes below backoffMinMs: no retry sooner than the floor', () => {
    const b = new Backoff({ backoffMinMs: 100, backoffMaxMs: 1000, random: () => 0 });
    expect(Array.from({ length: 5 }, () => b.next())).toEqual([100, 100, 100, 100, 100]);
  });

  it('jitters over the whole range [floor, ceiling)', () => {
    const b = new Backoff({ backoffMinMs: 1000, backoffMaxMs: 2000 });
    const delays = Array.from({ length: 200 }, () => b.next());
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...delays)).toBeLessThan(2000);
    expect(new Set(delays).size).toBeGreaterThan(50); // not a constant
    expect(Math.min(...delays)).toBeLessThan(1300);
    expect(Math.max(...delays)).toBeGreaterThan(1700);
  });

  it('equal bounds give that delay exactly', () => {
    const b = new Backoff({ backoffMinMs: 500, backoffMaxMs: 500 });
    expect([b.next(), b.next()]).toEqual([500, 500]);
  });

  it('reset() starts over; max() is the cap', () => {
    const b = new Backoff({ backoffMinMs: 10, backoffMaxMs: 50_000, random: () => 0.5 });
    for (let i = 0; i < 40; i++) b.next(); // a huge exponent stays finite
    expect(b.ceilingMs()).toBe(50_000);
    b.reset();
    expect(b.next()).toBe(15);
    expect(b.max()).toBe(50_000);
  });

  it('rejects nonsense bounds', () => {
    expect(() => new Backoff({ backoffMinMs: 0, backoffMaxMs: 10 })).toThrow(RangeError);
    expect(() => new Backoff({ backoffMinMs: 20, backoffMaxMs: 10 })).toThrow(RangeError);
  });
});
