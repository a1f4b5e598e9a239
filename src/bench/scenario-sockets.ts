/**
 * Many sockets rather than many messages. `idle`: as many authenticated, subscribed sockets as
 * the open-file limit allows, each getting about one tick a second: what a socket costs the
 * server in memory. `storm`: 10,000 sockets connect, authenticate and subscribe all at once: how
 * long until the last is acked, and how long each waited.
 */
import { spawnSync } from 'node:child_process';
import { cpuSeconds } from './proc-stats.ts';
import { attachRatios, type Measurement, type ScenarioReport } from './report.ts';
import { eachTarget, withFeed, type ScenarioDef } from './scenario-kit.ts';
import type { Shape } from './session.ts';

/** File descriptors the bench leaves to everything but the sockets (Redis, ZeroMQ, logs, …). */
const FD_HEADROOM = 1_000;
const IDLE_MAX = 19_000;

/** The soft open-file limit the server processes inherit from the bench. */
export function openFileLimit(): number {
  const r = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 1_024;
}

export const idle: ScenarioDef = {
  name: 'idle',
  about: 'as many sockets as the fd limit allows (≈19,000 at 20,000), one token each, a tick per token per second: RSS per socket',
  async run(ctx) {
    const limit = openFileLimit();
    const connections = ctx.connections ?? (ctx.quick ? 1_000 : Math.max(100, Math.min(IDLE_MAX, limit - FD_HEADROOM)));
    const shape: Shape = { connections, tokens: 500, tokensPerConnection: 1, mode: 'quote' };
    const measurements: Measurement[] = [];
    const connect: Record<string, number> = {};
    await withFeed(shape.tokens, (feed, endpoint) => eachTarget(ctx, feed, endpoint, shape, async (session) => {
      ctx.say(`${session.target.kind}: opening ${connections.toLocaleString('en-US')} sockets`);
      connect[session.target.kind] = (await session.connect()).elapsedMs;
      feed.setRate(shape.tokens);
      await session.warmUp(ctx.warmupS);
      measurements.push(await session.measure('idle', ctx.durationS));
    }));
    attachRatios(measurements);
    const notes = measurements.map((m) => `${m.target}: ${m.rssPerConnectionKiB?.toFixed(1)} KiB RSS per socket over ${m.connections.toLocaleString('en-US')} sockets (${Math.round(m.serverRssKiB / 1024)} MiB in all); opened in ${(connect[m.target]! / 1000).toFixed(1)} s`);
    return {
      name: this.name, about: this.about, measurements,
      summary: { openFileLimit: limit, connectMs: connect, rssPerSocketKiB: Object.fromEntries(measurements.map((m) => [m.target, m.rssPerConnectionKiB])) },
      notes,
    } satisfies ScenarioReport;
  },
};

export const storm: ScenarioDef = {
  name: 'storm',
  about: '10,000 sockets connect, authenticate and subscribe at once: time until all are acked, per-socket p50/p99',
  async run(ctx) {
    const connections = ctx.connections ?? (ctx.quick ? 1_000 : 10_000);
    const shape: Shape = { connections, tokens: 1_000, tokensPerConnection: 2, mode: 'quote' };
    const measurements: Measurement[] = [];
    const times: Record<string, { allAckedMs: number; p50: number; p99: number; max: number; reopened: number; serverCpuS: number; clientCpuS: number[] }> = {};
    await withFeed(shape.tokens, (feed, endpoint) => eachTarget(ctx, feed, endpoint, shape, async (session) => {
      feed.setRate(500);
      ctx.say(`${session.target.kind}: ${connections.toLocaleString('en-US')} sockets at once`);
      const cpu0 = { server: session.target.serverProcesses.map((p) => cpuSeconds(p.pid)), clients: session.fleet.cpuSeconds() };
      const c = await session.connect(Infinity);
      const s = c.connectMs.summary();
      const serverCpuS = session.target.serverProcesses.reduce((sum, p, k) => sum + cpuSeconds(p.pid) - cpu0.server[k]!, 0);
      const clientCpuS = session.fleet.cpuSeconds().map((v, k) => Math.round((v - cpu0.clients[k]!) * 100) / 100);
      times[session.target.kind] = {
        allAckedMs: c.elapsedMs, p50: s.p50, p99: s.p99, max: s.max, reopened: c.earlyCloses,
        serverCpuS: Math.round(serverCpuS * 100) / 100, clientCpuS,
      };
      await session.warmUp(0);
      measurements.push(await session.measure('after storm', ctx.durationS));
    }));
    attachRatios(measurements);
    const notes = Object.entries(times).map(([kind, t]) => `${kind}: all ${connections.toLocaleString('en-US')} acked after ${(t.allAckedMs / 1000).toFixed(2)} s; per socket p50 ${t.p50} ms, p99 ${t.p99} ms, max ${t.max} ms; CPU s server ${t.serverCpuS}, clients ${t.clientCpuS.join(' + ')}${t.reopened ? `; ${t.reopened} dropped fresh sockets reopened` : ''}`);
    const b = times.bare;
    const t = times.tickgate;
    if (b && t) notes.push(`tickgate took ${(t.allAckedMs / Math.max(1, b.allAckedMs)).toFixed(2)}× bare's time to ack every socket`);
    return { name: this.name, about: this.about, measurements, summary: { connections, connect: times }, notes } satisfies ScenarioReport;
  },
};
