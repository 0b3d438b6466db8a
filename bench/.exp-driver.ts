import { startChildServer } from './lib/child-server.js';
import { runLoad } from './lib/load.js';
const vs = ['bare', 'helmet-only', 'rampart-headers', 'static-headers'];
const servers = await Promise.all(vs.map((v) => startChildServer(new URL('./.exp-server.ts', import.meta.url).pathname, [v])));
for (const s of servers) await runLoad({ url: s.url + '/bench/ping', durationSeconds: 2, connections: 10 });
const res: Record<string, number[]> = {};
for (let r = 0; r < 4; r++) {
  const order = r % 2 ? [...servers.keys()].reverse() : [...servers.keys()];
  for (const i of order) {
    const s = servers[i]!; const c0 = await s.cpuMicros();
    const x = await runLoad({ url: s.url + '/bench/ping', durationSeconds: 3, connections: 10 });
    const c = (await s.cpuMicros()) - c0;
    (res[vs[i]!] ??= []).push(c / x.responses);
  }
}
for (const v of vs) console.log(v.padEnd(16), res[v]!.map((n) => n.toFixed(1)).join(' '), ' median-ish', [...res[v]!].sort((a, b) => a - b)[1]!.toFixed(1));
await Promise.all(servers.map((s) => s.stop()));
