import { afterEach, describe, expect, it, vi } from 'vitest';
import { Keepalive } from './keepalive.js';

// Fake timers: the clock is advanced instead of waited for. Keepalive is only
// timer logic; the hub's and the agent's socket tests run it on real time.
afterEach(() => {
  vi.useRealTimers();
});

function watch() {
  vi.useFakeTimers();
  const events: string[] = [];
  const k = new Keepalive(
    100,
    () => events.push('ping'),
    () => events.push('dead'),
  );
  return { k, events };
}

describe('Keepalive', () => {
  it('never pings a peer that is heard from every period', () => {
    const { k, events } = watch();
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(60);
      k.heard();
    }
    vi.advanceTimersByTime(40);
    expect(events).toEqual([]);
    k.stop();
  });

  it('pings a peer quiet for a whole period, and keeps it while it answers', () => {
    const { k, events } = watch();
    vi.advanceTimersByTime(100);
    expect(events).toEqual(['ping']);
    k.heard(); // the pong
    vi.advanceTimersByTime(100); // heard since the last tick: no ping
    vi.advanceTimersByTime(100); // quiet again: ping
    expect(events).toEqual(['ping', 'ping']);
    k.heard();
    vi.advanceTimersByTime(100);
    expect(events).toEqual(['ping', 'ping']);
    k.stop();
  });

  it('declares a peer dead once it missed a ping, then stops', () => {
    const { events } = watch();
    vi.advanceTimersByTime(100);
    vi.advanceTimersByTime(100);
    expect(events).toEqual(['ping', 'dead']);
    vi.advanceTimersByTime(1000);
    expect(events).toEqual(['ping', 'dead']);
  });
});
