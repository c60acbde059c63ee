// Which symbol perf names for each code address: one sample at every address
// (or every few) of the executable segments of real binaries — each sample
// its own process, so `--sort comm,sym` shows one address per row — and
// kvmlens's report must name every one as perf report does. This covers
// perf's symbol loading (what it keeps, the ends it gives zero-sized
// symbols) and its lookup where symbols overlap: an unstripped executable's
// `_init` is stretched over .plt before the NAME@plt symbols are added, and
// which of them perf names depends on the shape of its red-black tree.
// Skips without perf/root or a C compiler.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { havePerf, kvmlens, perf } from './support/profile-oracle.ts';
import { MISC_USER, ProfileDataWriter } from './support/profile-data-writer.ts';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'kvmlens-symbols-'));

/** The executable PT_LOAD segments of an ELF file: [file offset, size]. */
function execSegments(path: string): [bigint, bigint][] {
  const b = readFileSync(path);
  const phoff = b.readBigUInt64LE(32), phentsize = b.readUInt16LE(54), phnum = b.readUInt16LE(56);
  const out: [bigint, bigint][] = [];
  for (let i = 0; i < phnum; i++) {
    const at = Number(phoff) + i * phentsize;
    if (b.readUInt32LE(at) === 1 /* PT_LOAD */ && (b.readUInt32LE(at + 4) & 1) /* PF_X */)
      out.push([b.readBigUInt64LE(at + 8), b.readBigUInt64LE(at + 32)]);
  }
  return out;
}

/** Symbol per address, by perf and by kvmlens, for samples at every `step` bytes. */
function namesPerAddress(binary: string, step: bigint) {
  const base = 0x7f0000000000n;
  const w = new ProfileDataWriter();
  const addrs: bigint[] = [];
  let pid = 1000;
  for (const [off, size] of execSegments(binary)) {
    for (let a = off; a < off + size; a += step, pid++) {
      w.comm(pid, pid, `a${a.toString(16)}`).mmap(pid, base, 0x4000000n, 0n, binary);
      w.sample({ ip: base + a, pid, cpumode: MISC_USER });
      addrs.push(a);
    }
  }
  const file = join(dir, 'probe.data');
  w.write(file);
  const names = (text: string) => {
    const m = new Map<string, string>();
    for (const l of text.split('\n')) {
      const r = /^\s+[\d.]+%\s+(a[0-9a-f]+)\s+\[\.\]\s+(.*?)\s*$/.exec(l);
      if (r) m.set(r[1], r[2]);
    }
    return m;
  };
  const p = perf(['report', '--stdio', '-i', file, '--sort', 'comm,sym']);
  assert.is(p.status, 0, p.stderr);
  const k = kvmlens(['--host', 'report', '-i', file, '--sort', 'comm,sym']);
  assert.is(k.status, 0, k.stderr);
  return { addrs, perf: names(p.stdout), ours: names(k.stdout) };
}

function sameNames(binary: string, step: bigint) {
  const { addrs, perf: p, ours } = namesPerAddress(binary, step);
  assert.ok(p.size === addrs.length, `perf named ${p.size} of ${addrs.length} addresses`);
  const wrong = addrs.filter((a) => p.get(`a${a.toString(16)}`) !== ours.get(`a${a.toString(16)}`));
  const show = wrong.slice(0, 8).map((a) => `0x${a.toString(16)}: perf ${p.get(`a${a.toString(16)}`)}, kvmlens ${ours.get(`a${a.toString(16)}`)}`);
  assert.is(wrong.length, 0, `${wrong.length} of ${addrs.length} addresses named differently, e.g.\n${show.join('\n')}`);
}

const cc = spawnSync('cc', ['--version']).status === 0;
if (!havePerf() || !cc) {
  test('symbol per address vs perf (skipped: needs perf, root and cc)', () => {
    console.log('skip: perf, root or cc missing');
  });
} else {
  test.after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [fixture, flags] of [['burn.c', ['-O1', '-g']], ['symkinds.c', ['-O1']]] as const) {
    test(`every address of ${fixture} (gcc ${flags.join(' ')}, unstripped): named as perf names it`, () => {
      const exe = join(dir, fixture.replace('.c', ''));
      const r = spawnSync('cc', [...flags, '-o', exe, join(root, 'test', 'fixtures', 'profile', fixture)], { encoding: 'utf8' });
      assert.is(r.status, 0, r.stderr);
      sameNames(exe, 1n);
    });
  }

  test('a PLT-heavy unstripped executable (40 PLT entries): every address named as perf names it', () => {
    const calls = ['strlen(s)', 'atoi(s)', 'atol(s)', 'puts(s)', 'strdup(s)', 'getenv(s)', 'strchr(s,1)', 'strrchr(s,2)', 'abs((int)x)', 'labs(x)',
      'rand()', 'getpid()', 'getppid()', 'sleep(0)', 'usleep(0)', 'time(0)', 'clock()', 'strtol(s,0,10)', 'strtoul(s,0,10)', 'strtod(s,0)',
      'isatty(0)', 'fflush(0)', 'random()', 'geteuid()', 'getuid()', 'getgid()', 'getegid()', 'alarm(0)', 'sysconf(1)', 'umask(0)',
      'strspn(s,s)', 'strcspn(s,s)', 'strpbrk(s,s)', 'strstr(s,s)', 'strcasecmp(s,s)', 'strncasecmp(s,s,1)', 'memchr(s,1,1)', 'toupper(1)', 'tolower(1)'];
    const fns = Array.from({ length: 120 }, (_, i) => `__attribute__((noinline)) long f${i}(long x, const char* s) { return x * ${i + 3} + (long)(${calls[i % calls.length]}); }`);
    const src = ['#include <stdio.h>', '#include <stdlib.h>', '#include <string.h>', '#include <strings.h>', '#include <ctype.h>', '#include <time.h>',
      '#include <unistd.h>', '#include <sys/stat.h>', ...fns,
      `int main(int c, char** v) { long s = 0; ${fns.map((_, i) => `s += f${i}(c, v[0]);`).join(' ')} printf("%ld\\n", s); return (int)s; }`].join('\n');
    const exe = join(dir, 'many');
    const r = spawnSync('cc', ['-O1', '-fno-inline', '-w', '-x', 'c', '-o', exe, '-'], { input: src, encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    sameNames(exe, 2n);
  });

  test('diff: two static functions of one name are one entry, as perf diff collapses symbols by name', () => {
    const a = join(dir, 'one.c'), b = join(dir, 'two.c'), exe = join(dir, 'twins');
    writeFileSync(a, 'static __attribute__((noinline)) int twin(int x) { return x * 3 + 1; }\nint one(int x) { return twin(x); }\n');
    writeFileSync(b, 'static __attribute__((noinline)) int twin(int x) { return x * 5 + 2; }\nint two(int x) { return twin(x); }\nint one(int);\nint main(int c, char** v) { (void)v; return one(c) + two(c); }\n');
    const r = spawnSync('cc', ['-O1', '-o', exe, a, b], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    const nm = spawnSync('nm', [exe], { encoding: 'utf8' }).stdout;
    const twins = [...nm.matchAll(/^([0-9a-f]+) t twin$/gm)].map((m) => BigInt(`0x${m[1]}`));
    const main = BigInt(`0x${/^([0-9a-f]+) T main$/m.exec(nm)![1]}`);
    assert.is(twins.length, 2, nm);
    const base = 0x7f0000000000n;
    const write = (file: string, addrs: bigint[]) => {
      const w = new ProfileDataWriter();
      w.comm(100, 100, 'twins').mmap(100, base, 0x10000n, 0n, exe);
      for (let i = 0; i < 20; i++) w.sample({ ip: base + main, pid: 100, cpumode: MISC_USER });
      for (const x of addrs) w.sample({ ip: base + x, pid: 100, cpumode: MISC_USER });
      w.write(file);
    };
    const old = join(dir, 'old.data'), neu = join(dir, 'new.data');
    for (const [o, n] of [[[], twins], [[twins[0], twins[1], twins[1]], [twins[1]]]] as const) {
      write(old, [...o]);
      write(neu, [...n]);
      const p = perf(['diff', old, neu]);
      assert.is(p.status, 0, p.stderr);
      const k = kvmlens(['--host', 'diff', old, neu]);
      assert.is(k.status, 0, k.stderr);
      const table = (t: string) => t.split('\n').filter((l) => /%/.test(l) && !l.startsWith('#'));
      assert.equal(table(k.stdout), table(p.stdout));
      assert.is(table(p.stdout).filter((l) => / twin$/.test(l)).length, 1);
    }
  });

  test('a reused pid: the forked process has the maps of its parent, not those of the dead one before it (as perf)', () => {
    const libc = realpathSync('/usr/lib/x86_64-linux-gnu/libc.so.6'), libm = realpathSync('/usr/lib/x86_64-linux-gnu/libm.so.6');
    const [[cOff]] = execSegments(libc), [[mOff]] = execSegments(libm);
    const w = new ProfileDataWriter();
    w.comm(400, 400, 'parent').mmap(400, 0x7f1000000000n, 0x100000n, 0n, libm);
    w.comm(500, 500, 'old').mmap(500, 0x7f2000000000n, 0x200000n, 0n, libc);
    w.sample({ ip: 0x7f2000000000n + cOff + 0x1000n, pid: 500, cpumode: MISC_USER });
    w.fork(500, 500, true).fork(500, 400);
    for (let i = 0; i < 3; i++) w.sample({ ip: 0x7f2000000000n + cOff + 0x1000n, pid: 500, cpumode: MISC_USER });
    for (let i = 0; i < 2; i++) w.sample({ ip: 0x7f1000000000n + mOff + 0x800n, pid: 500, cpumode: MISC_USER });
    const file = join(dir, 'reused.data');
    w.write(file);
    const p = perf(['report', '--stdio', '-i', file]);
    assert.is(p.status, 0, p.stderr);
    const k = kvmlens(['--host', 'report', '-i', file]);
    assert.is(k.status, 0, k.stderr);
    const table = (t: string) => t.split('\n').filter((l) => /%/.test(l) && !l.startsWith('#'));
    assert.equal(table(k.stdout), table(p.stdout));
    assert.ok(table(p.stdout).some((l) => /parent\s+\[unknown\]/.test(l)), p.stdout);
  });

  test('Command column: as wide as the current comms of the threads of its entries, longer comms cut to it (as perf)', () => {
    const libc = realpathSync('/usr/lib/x86_64-linux-gnu/libc.so.6');
    const [[cOff]] = execSegments(libc);
    const base = 0x7f2000000000n;
    const w = new ProfileDataWriter();
    w.comm(400, 400, 'perf-exec-long-name').mmap(400, base, 0x200000n, 0n, libc);
    w.fork(500, 400);
    for (let i = 0; i < 3; i++) w.sample({ ip: base + cOff + 0x1000n, pid: 400, cpumode: MISC_USER });
    for (let i = 0; i < 2; i++) w.sample({ ip: base + cOff + 0x1000n, pid: 500, cpumode: MISC_USER });
    w.comm(400, 400, 'sh').comm(500, 500, 'ls');
    w.sample({ ip: base + cOff + 0x1000n, pid: 500, cpumode: MISC_USER });
    const file = join(dir, 'comms.data');
    w.write(file);
    for (const sort of [[], ['--sort', 'comm'], ['--sort', 'comm,dso']]) {
      const p = perf(['report', '--stdio', '-i', file, ...sort]);
      assert.is(p.status, 0, p.stderr);
      const k = kvmlens(['--host', 'report', '-i', file, ...sort]);
      assert.is(k.status, 0, k.stderr);
      const table = (t: string) => t.split('\n').filter((l) => (/%/.test(l) || /^# [.O]/.test(l)) && !/^# (To|Total|Samples|Event)/.test(l));
      assert.equal(table(k.stdout), table(p.stdout));
      assert.ok(table(p.stdout).some((l) => /perf-ex(\s|$)/.test(l)), p.stdout);
    }
  });

  test('libc.so.6 and libstdc++.so.6 (stripped: .dynsym and PLT; with libc debug symbols when installed) and the kvmlens addon (C++, unstripped): sampled addresses named as perf names them', () => {
    for (const lib of ['/usr/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/libstdc++.so.6', join(root, 'build', 'Release', 'kvmlens.node')]) {
      if (!existsSync(lib)) continue;
      const path = realpathSync(lib);
      const size = execSegments(path).reduce((n, [, s]) => n + s, 0n);
      sameNames(path, size / 20000n + 1n);
    }
  });
}

test.run();
