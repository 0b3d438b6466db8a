import { request } from 'node:http';
import { startChildServer } from './lib/child-server.js';
for (const v of ['bare', 'rampart']) {
  const s = await startChildServer(new URL('./pipeline.server.ts', import.meta.url).pathname, [v]);
  await new Promise<void>((resolve) => {
    request(s.url + '/bench/ping', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        const head = `HTTP/1.1 ${res.statusCode}\r\n` + res.rawHeaders.reduce((acc, h, i) => acc + (i % 2 ? h + '\r\n' : h + ': '), '') + '\r\n';
        console.log(v, 'header bytes', Buffer.byteLength(head), 'body', body);
        console.log(head);
        resolve();
      });
    }).end();
  });
  await s.stop();
}
