// kvmlens record vs perf record, system-wide at 4000 Hz for a few seconds
// while both CPUs are busy: the recorder's own CPU time (user + sys, Node's
// start-up included), samples written, lost events and file size. Each is
// run `rounds` times alternately; the best (least CPU) run of each counts.
//   node --import tsx bench/record.bench.ts [seconds] [rounds]    (root, perf, cc)
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const dir = process.env.KVMLENS_BENCH_DIR ?? '/tmp/kvmlens-bench';
const seconds = Number(process.argv[2] ?? 3);
const rounds = Number(process.argv[3] ?? 3);

interface Run { cpu: number; wall: number; samples: number; lost: number; bytes: number }

function timed(cmd: string[]): { cpu: number; wall: number } {
  const quoted = cmd.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('bash', ['-c', `TIMEFORMAT='%U %S %R'; time ${quoted} >/dev/null 2>&1`], { encoding: 'utf8' });
  const [u, s, w] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { cpu: u + s, wall: w };
}

function samplesIn(file: string): { samples: number; lost: number } {
  // perf report rounds the count to K; perf script counts exactly.
  const script = spawnSync('perf', ['script', '-F', 'ip', '-i', file], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const report = spawnSync('perf', ['report', '--stdio', '--sort', 'comm', '-i', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const lost = /^# Total Lost Samples: (\d+)/m.exec(report.stdout);
  return { samples: script.stdout.split('\n').filter(Boolean).length, lost: Number(lost?.[1] ?? 0) };
}

async function main() {
  mkdirSync(dir, { recursive: true });
  const burn = join(dir, 'burn');
  const cc = spawnSync('cc', ['-O1', '-o', burn, join(root, 'test', 'fixtures', 'profile', 'burn.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(cc.stderr);
  const best: Record<string, Run | undefined> = {};
  // Start-up and shut-down alone (`-- true`): subtracted to get the cost of recording.
  const base: Record<string, number> = {};
  for (let i = 0; i < rounds; i++) {
    for (const who of ['perf', 'kvmlens'] as const) {
      const file = join(dir, `record-${who}-base.data`);
      const cmd = who === 'perf'
        ? ['perf', 'record', '-a', '-F', '4000', '-o', file, '--', 'true']
        : [process.execPath, join(root, 'bin', 'kvmlens.js'), '--host', 'record', '-a', '-F', '4000', '-o', file, '--', 'true'];
      const t = timed(cmd);
      base[who] = Math.min(base[who] ?? Infinity, t.cpu);
    }
  }
  console.log(`start-up + shut-down (-- true): perf ${base.perf.toFixed(3)} s CPU, kvmlens ${base.kvmlens.toFixed(3)} s CPU`);
  for (let i = 0; i < rounds; i++) {
    for (const who of ['perf', 'kvmlens'] as const) {
      const file = join(dir, `record-${who}.data`);
      const workers = cpus().map(() => spawn(burn, [String(seconds + 2)], { stdio: 'ignore' }));
      await new Promise((r) => setTimeout(r, 200));
      const cmd = who === 'perf'
        ? ['perf', 'record', '-a', '-F', '4000', '-o', file, '--', 'sleep', String(seconds)]
        : [process.execPath, join(root, 'bin', 'kvmlens.js'), '--host', 'record', '-a', '-F', '4000', '-o', file, '--', 'sleep', String(seconds)];
      const t = timed(cmd);
      for (const w of workers) w.kill('SIGKILL');
      const { samples, lost } = samplesIn(file);
      const run = { ...t, samples, lost, bytes: statSync(file).size };
      console.log(`${who.padEnd(8)} cpu ${run.cpu.toFixed(3)} s  wall ${run.wall.toFixed(2)} s  samples ${samples}  lost ${lost}  ${(run.bytes / 1048576).toFixed(2)} MB`);
      if (!best[who] || run.cpu < best[who]!.cpu) best[who] = run;
    }
  }
  const p = best.perf!;
  const k = best.kvmlens!;
  console.log(`\nbest of ${rounds}: perf ${p.cpu.toFixed(3)} s CPU for ${p.samples} samples, kvmlens ${k.cpu.toFixed(3)} s for ${k.samples}`);
  const pm = (p.cpu - base.perf) / p.samples;
  const km = (k.cpu - base.kvmlens) / k.samples;
  console.log(`whole run: kvmlens/perf CPU ${(k.cpu / p.cpu).toFixed(2)}×`);
  console.log(`recording only (minus -- true): perf ${(pm * 1e6).toFixed(2)} µs/sample, kvmlens ${(km * 1e6).toFixed(2)} µs/sample; ratio kvmlens/perf ${(km / pm).toFixed(2)}×`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
