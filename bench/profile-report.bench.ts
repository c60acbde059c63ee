// `report` speed and memory: kvmlens vs real `perf report --stdio` on the
// same 1M-sample cpu-clock profile, in one run, with `cat FILE` as the floor.
//   node --import tsx bench/profile-report.bench.ts [SAMPLES]   (default 1,000,000; perf + root)
// The profile has the host kernel's MMAP and samples at real /proc/kallsyms
// text symbols, and samples in libc (mapped as perf records it) at real
// offsets of its text, over 32 processes: both tools do the same symbol work.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MISC_KERNEL, MISC_USER, ProfileDataWriter, parseSymbolMap } from '../test/support/profile-data-writer.ts';

const samples = Number(process.argv[2] ?? 1_000_000);
const dir = process.env.KVMLENS_BENCH_DIR ?? '/tmp/kvmlens-bench';
const root = join(import.meta.dirname, '..');
const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';

interface Run { wallS: number; peakRssMB: number; peakAnonMB: number }

function measure(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'] });
    let rss = 0;
    let anon = 0;
    const poll = setInterval(() => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        rss = Math.max(rss, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
        anon = Math.max(anon, Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? 0));
      } catch {
        /* exited */
      }
    }, 5);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(poll);
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`));
      resolve({ wallS: Number(process.hrtime.bigint() - start) / 1e9, peakRssMB: rss / 1024, peakAnonMB: anon / 1024 });
    });
  });
}

/** Best of `times` runs of each command, interleaved so both see the same machine load. */
async function bestOf(cmds: [string, string[]][], times = 5): Promise<Run[]> {
  const best: Run[] = cmds.map(() => ({ wallS: Infinity, peakRssMB: 0, peakAnonMB: 0 }));
  for (let i = 0; i < times; i++) {
    for (let c = 0; c < cmds.length; c++) {
      const r = await measure(cmds[c][0], cmds[c][1]);
      if (r.wallS < best[c].wallS) best[c] = r;
    }
  }
  return best;
}

function makeProfile(file: string, n: number) {
  const kallsyms = parseSymbolMap(readFileSync('/proc/kallsyms', 'utf8'));
  const text = kallsyms.find((s) => s.name === '_text')!.addr;
  const etext = kallsyms.find((s) => s.name === '_etext')!.addr;
  if (text === 0n) throw new Error('/proc/kallsyms addresses are hidden: run as root');
  const ktext = kallsyms.filter((s) => /^[tT]$/.test(s.type) && s.addr >= text && s.addr < etext);
  const kernelIps = Array.from({ length: 4000 }, (_, i) => ktext[Math.floor((i * ktext.length) / 4000)].addr + BigInt(i % 5));
  // libc's executable segment, from its program headers.
  const segs = execFileSync('readelf', ['-W', '-l', LIBC], { encoding: 'utf8' });
  const x = [...segs.matchAll(/LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+R E/g)][0];
  const xOff = BigInt(`0x${x[1]}`);
  const xSize = BigInt(`0x${x[3]}`);
  const w = new ProfileDataWriter();
  w.kernelMmap(text, etext);
  const BASE = 0x7f3000000000n;
  for (let p = 0; p < 32; p++) {
    const pid = 1000 + p;
    w.comm(pid, pid, `worker-${p % 8}`);
    w.mmap(pid, BASE + xOff, xSize, xOff, LIBC);
  }
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let i = 0; i < n; i++) {
    const pid = 1000 + (rnd() % 32);
    if (rnd() % 3 === 0) {
      w.sample({ ip: BASE + xOff + BigInt(rnd() % Number(xSize)), pid, cpumode: MISC_USER, cpu: i % 2 });
    } else {
      // Skewed: a few hot kernel functions, a long tail.
      const r = rnd() % 1000;
      const idx = r < 500 ? r % 20 : rnd() % kernelIps.length;
      w.sample({ ip: kernelIps[idx], pid, cpumode: MISC_KERNEL, cpu: i % 2 });
    }
    if (i % 10000 === 9999) w.finishedRound();
  }
  w.write(file);
}

async function main() {
  execFileSync('mkdir', ['-p', dir]);
  const file = join(dir, `profile-${samples}.data`);
  if (!existsSync(file)) {
    makeProfile(file, samples);
    console.error(`wrote ${file}`);
  }
  const size = statSync(file).size;
  const kvmlens = [process.execPath, join(root, 'bin', 'kvmlens.js')];
  // Same output first (a benchmark of different work would mean nothing).
  const p = execFileSync('perf', ['report', '--stdio', '-i', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const k = execFileSync(kvmlens[0], [...kvmlens.slice(1), '--host', 'report', '-i', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const top = (t: string) => t.split('\n').filter((l) => /^\s+[\d.]+%/.test(l)).slice(0, 50).join('\n');
  const same = top(p) === top(k);
  await measure('cat', [file]);
  // Output to /dev/null (spawned with ignored stdio), each process measured itself.
  const [cat, startup, perf, ours] = await bestOf([
    ['cat', [file]],
    [kvmlens[0], [...kvmlens.slice(1), '--help']],
    ['perf', ['report', '--stdio', '-i', file]],
    [kvmlens[0], [...kvmlens.slice(1), '--host', 'report', '-i', file]],
  ]);
  console.log(`\n${file}: ${samples} samples, ${(size / 1e6).toFixed(0)} MB; top 50 entries identical: ${same ? 'yes' : 'NO'}`);
  console.log('| tool | wall s | peak RSS MB | peak heap (RssAnon) MB |');
  console.log('|---|---|---|---|');
  for (const [name, r] of [['cat (floor)', cat], ['kvmlens --help (start-up)', startup], ['perf report --stdio', perf], ['kvmlens --host report', ours]] as const) {
    console.log(`| ${name} | ${r.wallS.toFixed(3)} | ${r.peakRssMB.toFixed(0)} | ${r.peakAnonMB.toFixed(0)} |`);
  }
  console.log(`speed-up over perf: ${(perf.wallS / ours.wallS).toFixed(2)}x; heap perf/kvmlens: ${(perf.peakAnonMB / ours.peakAnonMB).toFixed(1)}x`);
  if (!same) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
