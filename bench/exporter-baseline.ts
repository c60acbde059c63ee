// The exporter's resident memory once a replay is done and before any
// scrape (what it holds between scrapes: Node, its modules, the native
// aggregation), then after one scrape. A real `kvmlens exporter` process.
//   npx tsx bench/exporter-baseline.ts /tmp/kvmlens-bench/exporter-179vms.data [PORT]
// (the file is one that `npm run bench:exporter` generates).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [file, port = '19411'] = process.argv.slice(2);
if (!file) throw new Error('usage: bench/exporter-baseline.ts FILE.data [PORT]');
const root = join(import.meta.dirname, '..');
const exporter = spawn(
  process.execPath,
  [join(root, 'bin', 'kvmlens.js'), 'exporter', '--replay', file, '--speed', '0', '--web.listen-address', `127.0.0.1:${port}`, '--series.limit', '0'],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
const memory = () => {
  const s = readFileSync(`/proc/${exporter.pid}/status`, 'utf8');
  const mb = (k: string) => (Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)![1]) / 1024).toFixed(0);
  return `RSS ${mb('VmRSS')} MB (anonymous ${mb('RssAnon')}, file ${mb('RssFile')}), peak so far ${mb('VmHWM')} MB`;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
try {
  let ready = false;
  for (let i = 0; i < 300 && !ready; i++) {
    await sleep(100);
    ready = await fetch(`http://127.0.0.1:${port}/-/ready`).then((r) => r.ok, () => false);
  }
  if (!ready) throw new Error('exporter did not become ready');
  // /-/ready is up before the replay (speed 0) is done; it takes well under this here.
  await sleep(4000);
  console.log(`before any scrape: ${memory()}`);
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  console.log(`events read: ${/^kvmlens_events_read_total (\d+)/m.exec(text)?.[1]}`);
  await sleep(3000);
  console.log(`after one scrape: ${memory()}`);
} finally {
  exporter.kill('SIGTERM');
}
