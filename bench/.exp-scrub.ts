import { randomUUID } from 'node:crypto';
import { scrubString } from '../src/platform/log/scrub.js';
const lines = [
  `{"level":"info","time":"${new Date().toISOString()}","request_id":"${randomUUID()}","req":{"method":"GET","url":"/bench/ping","ip":"127.0.0.0"},"msg":"incoming request"}\n`,
  `{"level":"info","time":"${new Date().toISOString()}","request_id":"${randomUUID()}","res":{"statusCode":200},"responseTime":0.3519999999785796,"msg":"request completed"}\n`,
];
const N = 400_000;
function time(label: string, fn: (s: string) => string) {
  for (let i = 0; i < 50_000; i++) fn(lines[i & 1]!);
  const t = process.hrtime.bigint();
  let n = 0;
  for (let i = 0; i < N; i++) n += fn(lines[i & 1]!).length;
  console.log(label, (Number(process.hrtime.bigint() - t) / N / 1000).toFixed(2), 'µs/line', n > 0);
}
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
time('scrubString', scrubString);
time('email regex only', (s) => s.replace(EMAIL, '[email]'));
time('email regex guarded by includes(@)', (s) => (s.includes('@') ? s.replace(EMAIL, '[email]') : s));
