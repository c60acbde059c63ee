// stat report speed and memory: kvmlens vs real `perf kvm stat report` on the
// same large file in the same run, with floors measured alongside:
// `cat FILE > /dev/null`, `node -e 0`, and build/walk_floor (mapping the file
// and stepping over every record, the least any reader of it does).
//   npm run bench [-- SAMPLES]      (default 10,000,000; needs perf and root)
// KVMLENS_BENCH_RUNS (default 5) runs of each, in turns; the best counts.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { recordTemplate } from '../scripts/make-test-files.ts';
import { makeLargeFile } from './make-large-file.ts';

const samples = Number(process.argv[2] ?? 10_000_000);
const runs = Number(process.env.KVMLENS_BENCH_RUNS ?? 5);
const dir = process.env.KVMLENS_BENCH_DIR ?? '/tmp/kvmlens-bench';
const root = join(import.meta.dirname, '..');
const walkFloor = join(root, 'build', 'walk_floor'); // built with the addon by cmake-js

interface Run { wallS: number; cpuS: number; peakRssMB: number; peakAnonMB: number }

const TICKS_PER_S = 100; // USER_HZ: /proc/PID/stat counts CPU time in these

/**
 * Runs a command, sampling its RSS (total and anonymous = heap) and its CPU
 * time (all threads, user + system; the last sample, up to 5 ms short) every 5 ms.
 */
function measure(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'] });
    let rss = 0;
    let anon = 0;
    let ticks = 0;
    const poll = setInterval(() => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        rss = Math.max(rss, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
        anon = Math.max(anon, Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? 0));
        const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
        ticks = Math.max(ticks, Number(fields[11]) + Number(fields[12])); // utime (14), stime (15)
      } catch {
        /* exited */
      }
    }, 5);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(poll);
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`));
      resolve({
        wallS: Number(process.hrtime.bigint() - start) / 1e9,
        cpuS: ticks / TICKS_PER_S,
        peakRssMB: rss / 1024,
        peakAnonMB: anon / 1024,
      });
    });
  });
}

const bestOf = (runs: Run[]) => runs.reduce((a, b) => (b.wallS < a.wallS ? b : a));

/**
 * The best of `times` runs of each command, taken in turns (cat, perf,
 * kvmlens, cat, ...) so that load from other work on the machine falls on
 * all of them alike. Peak memory is the largest seen in any run.
 */
async function bestInTurns(commands: [string, string[]][], times: number): Promise<Run[]> {
  const runs: Run[][] = commands.map(() => []);
  for (let i = 0; i < times; i++) {
    for (let c = 0; c < commands.length; c++) runs[c].push(await measure(commands[c][0], commands[c][1]));
  }
  return runs.map((r) => ({
    ...bestOf(r),
    peakRssMB: Math.max(...r.map((x) => x.peakRssMB)),
    peakAnonMB: Math.max(...r.map((x) => x.peakAnonMB)),
  }));
}

async function main() {
  execFileSync('mkdir', ['-p', dir]);
  const template = join(dir, 'template.data');
  if (!existsSync(template)) recordTemplate(template);
  for (const rounds of [true, false]) {
    const file = join(dir, `kvm-${samples}${rounds ? '' : '-no-rounds'}.data`);
    if (!existsSync(file)) {
      const n = makeLargeFile(template, file, samples, rounds);
      console.error(`wrote ${file}: ${n} samples`);
    }
    const size = statSync(file).size;
    await measure('cat', [file]); // page cache warm
    const [cat, node, walk, perf, ours] = await bestInTurns(
      [
        ['sh', ['-c', `cat '${file}' > /dev/null`]],
        [process.execPath, ['-e', '0']],
        existsSync(walkFloor) ? [walkFloor, [file]] : ['true', []],
        ['perf', ['kvm', '-i', file, 'stat', 'report']],
        [process.execPath, [join(root, 'bin', 'kvmlens.js'), 'stat', 'report', '-i', file]],
      ],
      runs,
    );
    console.log(`\n${file} (${(size / 1e9).toFixed(2)} GB, ${rounds ? 'with' : 'without'} FINISHED_ROUND; best of ${runs})`);
    console.log('| tool | wall s | CPU s (that run) | peak RSS MB | peak heap (RssAnon) MB |');
    console.log('|---|---|---|---|---|');
    const rows: [string, Run][] = [['cat (floor)', cat], ['node -e 0 (start-up floor)', node]];
    if (existsSync(walkFloor)) rows.push(['walk_floor (map + step over every record)', walk]);
    rows.push(['perf kvm stat report', perf], ['kvmlens stat report', ours]);
    for (const [name, r] of rows) {
      console.log(`| ${name} | ${r.wallS.toFixed(3)} | ${r.cpuS.toFixed(2)} | ${r.peakRssMB.toFixed(0)} | ${r.peakAnonMB.toFixed(0)} |`);
    }
    console.log(`speed-up over perf: ${(perf.wallS / ours.wallS).toFixed(2)}x; heap ratio perf/kvmlens: ${(perf.peakAnonMB / ours.peakAnonMB).toFixed(1)}x`);
    if (existsSync(walkFloor)) {
      // What 8x leaves once Node has started and the file has been stepped over.
      const target = perf.wallS / 8;
      const floor = node.wallS + walk.wallS;
      console.log(
        `8x target: ${target.toFixed(3)} s; node start-up + walk floor: ${floor.toFixed(3)} s ` +
          `(perf / that floor: ${(perf.wallS / floor).toFixed(2)}x), leaving ${Math.max(0, target - floor).toFixed(3)} s ` +
          `for ordering, decoding, pairing and statistics`,
      );
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
