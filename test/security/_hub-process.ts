import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertBuilt, type Daemon, freePort, HUB_BIN, runOk, startDaemon } from '../helpers/processes.js';

/** A real `hub serve` process on a data dir, with an operator token, and its memory as the kernel counts it. */
export interface HubProcess {
  daemon: Daemon;
  url: string;
  env: { STEMS_HUB_DATA: string };
  token: string;
  /** Peak resident set size of the hub process so far (VmHWM), in bytes. */
  peakRss(): Promise<number>;
  api(method: 'GET' | 'POST', path: string): Promise<{ status: number; body: unknown; ms: number }>;
}

export async function startHubProcess(work: string, repoUrl: string): Promise<HubProcess> {
  assertBuilt();
  const env = { STEMS_HUB_DATA: join(work, 'hub') };
  const listen = `127.0.0.1:${await freePort()}`;
  await runOk(HUB_BIN, ['init', '--repo', repoUrl, '--listen', listen, '--fetch-interval', '1h'], env);
  const daemon = startDaemon(HUB_BIN, ['serve'], env);
  await daemon.waitFor(/hub listening/);
  const token = JSON.parse(await runOk(HUB_BIN, ['token', 'create', '--role', 'operator', '--json'], env)).token as string;
  const url = `http://${listen}`;
  return {
    daemon,
    url,
    env,
    token,
    async peakRss() {
      const status = await readFile(`/proc/${daemon.child.pid}/status`, 'utf8');
      const kib = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
      if (!kib) throw new Error(`no VmHWM in /proc/${daemon.child.pid}/status`);
      return Number(kib) * 1024;
    },
    async api(method, path) {
      const started = performance.now();
      const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: await res.json(), ms: performance.now() - started };
    },
  };
}

/** Polls /health every everyMs until stopped; reports the slowest answer and any failure. */
export function healthWatch(url: string, everyMs = 50): { stop(): Promise<{ maxMs: number; failures: number; polls: number }> } {
  let running = true;
  let maxMs = 0;
  let failures = 0;
  let polls = 0;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      try {
        const res = await fetch(`${url}/api/v1/health`, { signal: AbortSignal.timeout(10_000) });
        if (res.status !== 200) failures++;
        await res.arrayBuffer();
      } catch (err) {
        if (!(err instanceof Error)) throw err;
        failures++;
      }
      polls++;
      maxMs = Math.max(maxMs, performance.now() - started);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { maxMs, failures, polls };
    },
  };
}
