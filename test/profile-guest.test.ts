// Guest kernel symbolization on a real Debian kernel's symbols: its
// /proc/kallsyms and /proc/modules, copied by booting linux-image-amd64
// under QEMU TCG (test/support/guest-kallsyms.sh; Debian's /boot/System.map
// is a placeholder). A profile with guest-kernel samples at known addresses
// (this machine has no KVM to record them) must come out with the right
// symbols and shares via --guestkallsyms (+ --guestmodules) and via
// --guestvmlinux, and agree with `perf kvm --guestkallsyms=F report --stdio`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeVmlinux } from './support/elf-writer.ts';
import { MISC_GUEST_KERNEL, MISC_GUEST_USER, MISC_KERNEL, ProfileDataWriter, parseSymbolMap } from './support/profile-data-writer.ts';
import { havePerf, kvmlens, perf, rows, run, withoutTip } from './support/profile-oracle.ts';

const here = import.meta.dirname;

/** The guest's kallsyms/modules: $KVMLENS_GUEST_SYMS, a cached copy, or a fresh boot. */
function guestSymbols(): { dir?: string; why?: string } {
  const given = process.env.KVMLENS_GUEST_SYMS;
  if (given) return { dir: given };
  const cache = join(tmpdir(), 'kvmlens-guest-syms-cache');
  if (existsSync(join(cache, 'kallsyms')) && existsSync(join(cache, 'modules'))) return { dir: cache };
  mkdirSync(cache, { recursive: true });
  const r = run('bash', [join(here, 'support', 'guest-kallsyms.sh'), cache]);
  if (r.status === 0) return { dir: cache };
  rmSync(cache, { recursive: true, force: true });
  return { why: r.stderr.trim().split('\n').pop() };
}

const syms = guestSymbols();
if (!syms.dir) {
  test('guest symbolization (skipped: no Debian kernel to boot)', () => {
    console.log(`skip: ${syms.why}`);
  });
  test.run();
} else {
  const kallsymsFile = join(syms.dir, 'kallsyms');
  const modulesFile = join(syms.dir, 'modules');
  const dir = mkdtempSync(join(tmpdir(), 'kvmlens-guest-'));
  const all = parseSymbolMap(readFileSync(kallsymsFile, 'utf8'));
  const lines = readFileSync(kallsymsFile, 'utf8').split('\n');
  const modules = readFileSync(modulesFile, 'utf8').trim().split('\n').map((l) => {
    const f = l.split(/\s+/);
    return { name: f[0], size: BigInt(f[1]), start: BigInt(f[5]) };
  });
  const textStart = all.find((s) => s.name === '_text')!.addr;
  const textEnd = all.find((s) => s.name === '_etext')!.addr;
  // Kernel text symbols with room after them (the next symbol is >= 64 bytes on).
  const sorted = all.filter((s) => s.addr >= textStart && s.addr < textEnd).sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
  const roomy = sorted.filter((s, i) => /^[tT]$/.test(s.type) && i + 1 < sorted.length && sorted[i + 1].addr - s.addr >= 64n && sorted[i - 1]?.addr !== s.addr);
  const nameCount = new Map<string, number>();
  for (const s of all) nameCount.set(s.name, (nameCount.get(s.name) ?? 0) + 1);
  const unique = roomy.filter((s) => nameCount.get(s.name) === 1);
  const wanted = ['schedule', 'do_syscall_64', 'memcpy_orig', 'handle_mm_fault'];
  const picks = wanted.map((n) => unique.find((s) => s.name === n)).filter((s): s is NonNullable<typeof s> => !!s);
  // ... and some spread over the whole text.
  for (let i = 1; picks.length < 8 && i < 8; i++) {
    const s = unique[Math.floor((unique.length * i) / 8)];
    if (!picks.includes(s)) picks.push(s);
  }
  const kvm = modules.find((m) => m.name === 'kvm');
  const kvmSyms = lines
    .filter((l) => /\s[tT]\s\S+\s+\[kvm\]$/.test(l))
    .map((l) => ({ addr: BigInt(`0x${l.split(/\s+/)[0]}`), name: l.split(/\s+/)[2] }))
    .sort((a, b) => (a.addr < b.addr ? -1 : 1));
  const kvmPicks = kvmSyms.filter((s, i) => i + 1 < kvmSyms.length && kvmSyms[i + 1].addr - s.addr >= 64n).slice(40, 42);

  const GUEST_PID = 4242;
  const TID = 4250;
  const counts: { name: string; dso: string; n: number; ip: bigint }[] = [];
  const w = new ProfileDataWriter();
  w.kernelMmap(textStart, textEnd, true);
  for (const m of modules) w.mmap(0, m.start, m.size, 0n, `[${m.name}]`, MISC_GUEST_KERNEL);
  w.comm(GUEST_PID, GUEST_PID, 'qemu-system-x86');
  w.comm(GUEST_PID, TID, 'CPU 0/KVM');
  picks.forEach((s, i) => counts.push({ name: s.name, dso: '[guest.kernel.kallsyms]', n: 6 * (i + 1), ip: s.addr }));
  kvmPicks.forEach((s, i) => counts.push({ name: s.name, dso: '[kvm]', n: 9 + 4 * i, ip: s.addr }));
  let total = 0;
  // Interleave the samples so that no symbol's samples are consecutive.
  for (let round = 0; round < 64; round++) {
    for (const c of counts) {
      if (round < c.n) {
        w.sample({ ip: c.ip + BigInt((round * 13) % 64), pid: GUEST_PID, tid: TID, cpumode: MISC_GUEST_KERNEL });
        total++;
      }
    }
  }
  const VSYSCALL = 0xffffffffff600000n; // outside the guest kernel map: [unknown]
  for (let k = 0; k < 3; k++) w.sample({ ip: VSYSCALL + BigInt(k), pid: GUEST_PID, tid: TID, cpumode: MISC_GUEST_KERNEL });
  for (let k = 0; k < 2; k++) w.sample({ ip: 0x401000n, pid: GUEST_PID, tid: TID, cpumode: MISC_GUEST_USER });
  for (let k = 0; k < 4; k++) w.sample({ ip: 0xffffffff81000000n, pid: GUEST_PID, tid: TID, cpumode: MISC_KERNEL });
  total += 3 + 2 + 4;
  w.finishedRound();
  const file = join(dir, 'guest.data');
  w.write(file);
  // The same samples without any guest MMAP (perf kvm record without --guestkallsyms).
  const bare = new ProfileDataWriter();
  bare.comm(GUEST_PID, TID, 'CPU 0/KVM');
  for (const c of counts) for (let k = 0; k < c.n; k++) bare.sample({ ip: c.ip + 3n, pid: GUEST_PID, tid: TID, cpumode: MISC_GUEST_KERNEL });
  const bareFile = join(dir, 'bare.data');
  bare.write(bareFile);

  const G = [`--guestkallsyms=${kallsymsFile}`, `--guestmodules=${modulesFile}`];
  const pct = (n: number) => ((100 * n) / total).toFixed(2);

  test('the guest symbols are a real kernel\'s and the picks exist', () => {
    assert.ok(all.length > 50000, `${all.length} symbols`);
    assert.ok(picks.length >= 6, `picked ${picks.map((p) => p.name)}`);
    assert.ok(kvm && kvmPicks.length === 2, 'kvm module symbols');
  });

  test('report --guestkallsyms --guestmodules: every chosen symbol at its share, markers [g]/[u], comm of the guest thread', () => {
    const r = kvmlens([...G, 'report', '-i', file]);
    assert.is(r.status, 0, r.stderr);
    const out = rows(r.stdout);
    for (const c of counts) {
      const line = out.find((l) => l.endsWith(`[g] ${c.name}`));
      assert.ok(line, `no line for ${c.name}:\n${r.stdout}`);
      assert.match(line!, new RegExp(`^\\s+${pct(c.n)}%\\s+:${TID}\\s+${c.dso.replace(/[[\]]/g, '\\$&')}\\s`));
    }
    assert.ok(out.some((l) => /\[unknown\]\s+\[g\] 0xffffffffff600000$/.test(l)), 'vsyscall address raw');
    assert.ok(out.some((l) => /\[unknown\]\s+\[u\] 0x0000000000401000$/.test(l)), 'guest user raw');
    assert.ok(!out.some((l) => l.includes('[k]')), 'host samples hidden without --host');
    assert.match(r.stderr, /4 host samples/);
  });

  test('the same symbols and shares as perf kvm --guestkallsyms report --stdio (perf leaves module symbols raw)', () => {
    if (!havePerf()) return console.log('skip: perf not installed or not root');
    for (const host of [[], ['--host']]) {
      const p = perf(['kvm', ...host, ...G, '-i', file, 'report', '--stdio']);
      assert.is(p.status, 0, p.stderr);
      const k = kvmlens([...host, ...G, 'report', '-i', file]);
      const norm = (l: string) => l.trim().split(/\s+/).join(' ');
      const theirs = rows(withoutTip(p.stdout)).map(norm);
      const ours = rows(k.stdout).map(norm);
      // Outside the kvm module: the same lines in the same order.
      assert.equal(ours.filter((l) => !l.includes(' [kvm] ')), theirs.filter((l) => !l.includes(' [kvm] ')));
      // perf has no symbols for guest modules without their .ko files: it
      // prints one line per module-relative address where kvmlens names the
      // symbol. Each of perf's addresses must be one of the chosen symbol's,
      // and their shares must add up to kvmlens' line.
      const sums = new Map<string, { pct: number; lines: number }>();
      for (const l of theirs.filter((x) => x.includes(' [kvm] '))) {
        const m = /^([\d.]+)% (\S+) \[kvm\] \[g\] 0x([0-9a-f]+)$/.exec(l);
        assert.ok(m, `perf's kvm line ${l}`);
        const ip = kvm!.start + BigInt(`0x${m![3]}`);
        const c = counts.find((x) => x.dso === '[kvm]' && ip >= x.ip && ip < x.ip + 64n);
        assert.ok(c, `perf's ${l} is one of the chosen kvm addresses`);
        const e = sums.get(c!.name) ?? { pct: 0, lines: 0 };
        e.pct += Number(m![1]);
        e.lines++;
        sums.set(c!.name, e);
      }
      const mine = ours.filter((l) => l.includes(' [kvm] '));
      assert.is(mine.length, kvmPicks.length);
      for (const l of mine) {
        const [, share, , name] = /^([\d.]+)% (\S+) \[kvm\] \[g\] (\S+)$/.exec(l)!;
        const theirsSum = sums.get(name);
        assert.ok(theirsSum, `${name} in perf's output`);
        assert.ok(Math.abs(theirsSum!.pct - Number(share)) <= 0.005 * (theirsSum!.lines + 1), `${name}: perf ${theirsSum!.pct} kvmlens ${share}`);
      }
    }
  });

  test('--guestvmlinux (ELF .symtab) resolves the same kernel symbols; perf agrees', () => {
    const vmlinux = join(dir, 'vmlinux');
    const elfSyms = roomy.map((s) => {
      const next = sorted[sorted.indexOf(s) + 1];
      return { name: s.name, addr: s.addr, size: next.addr - s.addr, global: s.type === 'T' };
    });
    writeVmlinux(vmlinux, { start: textStart, end: textEnd }, elfSyms);
    const r = kvmlens([`--guestvmlinux=${vmlinux}`, 'report', '-i', file]);
    assert.is(r.status, 0, r.stderr);
    for (const c of counts.filter((x) => x.dso !== '[kvm]')) {
      assert.ok(rows(r.stdout).some((l) => new RegExp(`^\\s+${pct(c.n)}%.*\\[guest\\.kernel\\.kallsyms\\]\\s+\\[g\\] ${c.name}$`).test(l)), `${c.name} via vmlinux:\n${r.stdout}`);
    }
    if (!havePerf()) return;
    const p = perf(['kvm', `--guestvmlinux=${vmlinux}`, '-i', file, 'report', '--stdio']);
    assert.is(p.status, 0, p.stderr);
    const guestKernel = (t: string) => rows(t).filter((l) => l.includes('[guest.kernel.kallsyms]')).map((l) => l.trim().split(/\s+/).join(' '));
    assert.equal(guestKernel(r.stdout), guestKernel(p.stdout));
  });

  test('a recording without the guest kernel MMAP still resolves with --guestkallsyms', () => {
    const r = kvmlens([...G, 'report', '-i', bareFile]);
    assert.is(r.status, 0, r.stderr);
    for (const c of counts.filter((x) => x.dso !== '[kvm]')) assert.ok(r.stdout.includes(`[g] ${c.name}\n`), c.name);
    for (const c of counts.filter((x) => x.dso === '[kvm]')) assert.ok(new RegExp(`\\[kvm\\]\\s+\\[g\\] ${c.name}\\n`).test(r.stdout), c.name);
  });

  test('--guestmount: GUESTMOUNT/PID/proc/{kallsyms,modules} per guest; a missing one is named', () => {
    const mount = join(dir, 'guests');
    mkdirSync(join(mount, String(GUEST_PID), 'proc'), { recursive: true });
    writeFileSync(join(mount, String(GUEST_PID), 'proc', 'kallsyms'), readFileSync(kallsymsFile));
    writeFileSync(join(mount, String(GUEST_PID), 'proc', 'modules'), readFileSync(modulesFile));
    const r = kvmlens([`--guestmount=${mount}`, 'report', '-i', bareFile]);
    assert.is(r.status, 0, r.stderr);
    for (const c of counts) assert.match(r.stdout, new RegExp(`${c.dso.replace(/[[\].]/g, '\\$&')}\\s+\\[g\\] ${c.name}\\n`));
    const gone = join(dir, 'no-guests');
    const m = kvmlens([`--guestmount=${gone}`, 'report', '-i', bareFile]);
    assert.is(m.status, 0);
    assert.match(m.stderr, new RegExp(`guest kallsyms ${gone}/${GUEST_PID}/proc/kallsyms: cannot read`));
  });

  test('bad guest symbol files: one warning naming the file, the report still prints with raw addresses', () => {
    const garbage = join(dir, 'garbage.kallsyms');
    writeFileSync(garbage, 'this is not\na kallsyms file\n');
    const zeros = join(dir, 'zeros.kallsyms');
    writeFileSync(zeros, lines.slice(0, 5000).map((l) => l.replace(/^[0-9a-f]+/, '0000000000000000')).join('\n'));
    const stripped = join(dir, 'vmlinux-stripped');
    writeVmlinux(stripped, { start: textStart, end: textEnd }, [], { strip: true });
    const missing = join(dir, 'no-such-kallsyms');
    const cases: [string[], RegExp][] = [
      [[`--guestkallsyms=${missing}`], new RegExp(`guest kallsyms ${missing}: cannot read: No such file`)],
      [[`--guestkallsyms=${garbage}`], new RegExp(`guest kallsyms ${garbage}: not a kallsyms file`)],
      [[`--guestkallsyms=${zeros}`], new RegExp(`guest kallsyms ${zeros}: every address is 0`)],
      [[`--guestvmlinux=${stripped}`], new RegExp(`guest vmlinux ${stripped}: has no symbol table`)],
      [[`--guestvmlinux=${missing}`], new RegExp(`guest vmlinux ${missing}: cannot read`)],
      [[`--guestvmlinux=${garbage}`], new RegExp(`guest vmlinux ${garbage}: not an ELF file`)],
      [[], /guest kernel samples without --guestkallsyms, --guestvmlinux or --guestmount are shown as raw addresses/],
    ];
    for (const [args, warning] of cases) {
      const r = kvmlens([...args, 'report', '-i', file]);
      assert.is(r.status, 0, `${args}: ${r.stderr}`);
      assert.match(r.stderr, warning);
      assert.is(r.stderr.split('\n').filter((l) => warning.test(l)).length, 1, 'warned once');
      const first = counts[0];
      assert.match(r.stdout, new RegExp(`\\[guest\\.kernel\\.kallsyms\\]\\s+\\[g\\] 0x${(first.ip).toString(16)}`), 'raw guest kernel addresses');
    }
    const m = kvmlens([`--guestkallsyms=${kallsymsFile}`, `--guestmodules=${missing}`, 'report', '-i', bareFile]);
    assert.is(m.status, 0);
    assert.match(m.stderr, new RegExp(`guest modules ${missing}: cannot read`));
  });

  test.after(() => { if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true }); else console.log('kept', dir); });
  test.run();
}
