// Test support: writes perf.data profiles (a cpu-clock sampling event, as
// `perf record -e cpu-clock` makes) with samples at chosen addresses and
// cpumodes — guest kernel samples included, which this machine (no KVM)
// cannot record — plus COMM / MMAP side-band records and HEADER_BUILD_ID.
// Real perf reads these files (the tests compare against it).
import { writeFileSync } from 'node:fs';

export const MISC_KERNEL = 1;
export const MISC_USER = 2;
export const MISC_HYPERVISOR = 3;
export const MISC_GUEST_KERNEL = 4;
export const MISC_GUEST_USER = 5;

// sample_type IP|TID|TIME|CPU|PERIOD|IDENTIFIER, sample_id_all.
const SAMPLE_TYPE = 1n | 2n | 4n | 128n | 256n | 65536n;
const ID = 42n;

export interface ProfileSample {
  ip: bigint;
  pid: number;
  tid?: number;
  cpumode: number;
  period?: bigint;
  cpu?: number;
  time?: bigint;
}

export class ProfileDataWriter {
  private records: Buffer[] = [];
  private time = 1_000_000n;
  private buildIds: Buffer[] = [];
  eventName = 'cpu-clock';

  private trailer(pid: number, tid: number, time: bigint, cpu: number): Buffer {
    // sample_id_all trailer for this sample_type: pid,tid | time | cpu,res | identifier
    const t = Buffer.alloc(32);
    t.writeInt32LE(pid, 0);
    t.writeInt32LE(tid, 4);
    t.writeBigUInt64LE(time, 8);
    t.writeUInt32LE(cpu, 16);
    t.writeBigUInt64LE(ID, 24);
    return t;
  }

  private nextTime(t?: bigint): bigint {
    if (t !== undefined) {
      this.time = t;
      return t;
    }
    this.time += 1000n;
    return this.time;
  }

  sample(s: ProfileSample): this {
    const rec = Buffer.alloc(8 + 48);
    rec.writeUInt32LE(9, 0);
    rec.writeUInt16LE(s.cpumode, 4);
    rec.writeUInt16LE(rec.length, 6);
    rec.writeBigUInt64LE(ID, 8);
    rec.writeBigUInt64LE(BigInt.asUintN(64, s.ip), 16);
    rec.writeInt32LE(s.pid, 24);
    rec.writeInt32LE(s.tid ?? s.pid, 28);
    rec.writeBigUInt64LE(this.nextTime(s.time), 32);
    rec.writeUInt32LE(s.cpu ?? 0, 40);
    rec.writeBigUInt64LE(s.period ?? 250000n, 48);
    this.records.push(rec);
    return this;
  }

  private withName(type: number, misc: number, body: Buffer, name: string, pid: number, tid: number): this {
    const nameBytes = Buffer.alloc((name.length + 1 + 7) & ~7);
    nameBytes.write(name, 'latin1');
    const trailer = this.trailer(pid, tid, this.nextTime(), 0);
    const size = 8 + body.length + nameBytes.length + trailer.length;
    const h = Buffer.alloc(8);
    h.writeUInt32LE(type, 0);
    h.writeUInt16LE(misc, 4);
    h.writeUInt16LE(size, 6);
    this.records.push(Buffer.concat([h, body, nameBytes, trailer]));
    return this;
  }

  comm(pid: number, tid: number, comm: string): this {
    const b = Buffer.alloc(8);
    b.writeInt32LE(pid, 0);
    b.writeInt32LE(tid, 4);
    return this.withName(3, 0, b, comm, pid, tid);
  }

  /** PERF_RECORD_FORK (7) or PERF_RECORD_EXIT (4): pid, ppid, tid, ptid, time, then the trailer. */
  fork(pid: number, ppid: number, exit = false): this {
    const b = Buffer.alloc(24);
    b.writeInt32LE(pid, 0);
    b.writeInt32LE(ppid, 4);
    b.writeInt32LE(pid, 8);
    b.writeInt32LE(ppid, 12);
    const t = this.nextTime();
    b.writeBigUInt64LE(t, 16);
    const trailer = this.trailer(pid, pid, t, 0);
    const h = Buffer.alloc(8);
    h.writeUInt32LE(exit ? 4 : 7, 0);
    h.writeUInt16LE(8 + b.length + trailer.length, 6);
    this.records.push(Buffer.concat([h, b, trailer]));
    return this;
  }

  /** PERF_RECORD_MMAP; pid -1 with cpumode kernel for the kernel map. */
  mmap(pid: number, start: bigint, len: bigint, pgoff: bigint, filename: string, cpumode = MISC_USER): this {
    const b = Buffer.alloc(32);
    b.writeInt32LE(pid, 0);
    b.writeInt32LE(pid, 4);
    b.writeBigUInt64LE(start, 8);
    b.writeBigUInt64LE(len, 16);
    b.writeBigUInt64LE(pgoff, 24);
    return this.withName(1, cpumode, b, filename, pid, pid);
  }

  /**
   * The kernel MMAP perf writes first: "[kernel.kallsyms]_text" (host, pid -1)
   * or, as perf kvm record writes it for a guest given --guestkallsyms,
   * "[guest.kernel.kallsyms]_text" (pid = the guest machine, 0 by default).
   */
  kernelMmap(start: bigint, end: bigint, guest = false, machinePid = 0): this {
    return guest
      ? this.mmap(machinePid, start, end - start, start, '[guest.kernel.kallsyms]_text', MISC_GUEST_KERNEL)
      : this.mmap(-1, start, end - start, start, '[kernel.kallsyms]_text', MISC_KERNEL);
  }

  /** A HEADER_BUILD_ID entry (20-byte build-id given in hex). */
  buildId(hex: string, filename: string, cpumode: number, pid = -1): this {
    const name = Buffer.alloc((filename.length + 1 + 63) & ~63);
    name.write(filename, 'latin1');
    const rec = Buffer.alloc(36 + name.length);
    rec.writeUInt32LE(67, 0);
    rec.writeUInt16LE(cpumode | 0x8000, 4); // PERF_RECORD_MISC_BUILD_ID_SIZE
    rec.writeUInt16LE(rec.length, 6);
    rec.writeInt32LE(pid, 8);
    Buffer.from(hex, 'hex').copy(rec, 12);
    rec.writeUInt8(Buffer.from(hex, 'hex').length, 32);
    name.copy(rec, 36);
    this.buildIds.push(rec);
    return this;
  }

  /** PERF_RECORD_LOST (the ring buffer dropped `n` records), with the sample_id_all trailer. */
  lost(n: bigint): this {
    const b = Buffer.alloc(16);
    b.writeBigUInt64LE(ID, 0);
    b.writeBigUInt64LE(n, 8);
    return this.withTrailer(2, b);
  }

  /** PERF_RECORD_LOST_SAMPLES (the kernel could not write `n` samples), as perf record saves it. */
  lostSamples(n: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(n, 0);
    return this.withTrailer(13, b);
  }

  private withTrailer(type: number, body: Buffer): this {
    const trailer = this.trailer(-1, -1, this.nextTime(), 0);
    const h = Buffer.alloc(8);
    h.writeUInt32LE(type, 0);
    h.writeUInt16LE(8 + body.length + trailer.length, 6);
    this.records.push(Buffer.concat([h, body, trailer]));
    return this;
  }

  finishedRound(): this {
    const rec = Buffer.alloc(8);
    rec.writeUInt32LE(68, 0);
    rec.writeUInt16LE(8, 6);
    this.records.push(rec);
    return this;
  }

  /** Raw bytes appended to the data section (damaged-file tests). */
  raw(bytes: Buffer): this {
    this.records.push(bytes);
    return this;
  }

  toBuffer(): Buffer {
    const attr = Buffer.alloc(128);
    attr.writeUInt32LE(1, 0); // PERF_TYPE_SOFTWARE
    attr.writeUInt32LE(128, 4);
    attr.writeBigUInt64LE(0n, 8); // PERF_COUNT_SW_CPU_CLOCK
    attr.writeBigUInt64LE(4000n, 16); // sample_freq
    attr.writeBigUInt64LE(SAMPLE_TYPE, 24);
    // flags: disabled(0) inherit(1) mmap(8) comm(9) freq(10) sample_id_all(18) exclude_guest(20)? no
    attr.writeBigUInt64LE((1n << 0n) | (1n << 1n) | (1n << 8n) | (1n << 9n) | (1n << 10n) | (1n << 18n), 40);
    const headerSize = 104;
    const attrEntry = attr.length + 16;
    const idsOff = headerSize + attrEntry;
    const ids = Buffer.alloc(8);
    ids.writeBigUInt64LE(ID, 0);
    const dataOff = idsOff + ids.length;
    const data = Buffer.concat([...this.records, ...(this.records.length ? [] : [])]);
    const features = new Map<number, Buffer>();
    if (this.buildIds.length) features.set(2, Buffer.concat(this.buildIds));
    features.set(4, headerString('6.1.0-test'));
    features.set(5, headerString('6.1.0'));
    features.set(6, headerString('x86_64'));
    features.set(12, eventDesc(attr, this.eventName));
    const bits = [...features.keys()].sort((a, b) => a - b);
    const tableOff = dataOff + data.length;
    let payloadOff = tableOff + 16 * bits.length;
    const table = Buffer.alloc(16 * bits.length);
    const payloads: Buffer[] = [];
    bits.forEach((bit, i) => {
      const p = features.get(bit)!;
      table.writeBigUInt64LE(BigInt(payloadOff), 16 * i);
      table.writeBigUInt64LE(BigInt(p.length), 16 * i + 8);
      payloads.push(p);
      payloadOff += p.length;
    });
    const header = Buffer.alloc(headerSize);
    header.write('PERFILE2', 0, 'latin1');
    header.writeBigUInt64LE(BigInt(headerSize), 8);
    header.writeBigUInt64LE(BigInt(attrEntry), 16);
    header.writeBigUInt64LE(BigInt(headerSize), 24);
    header.writeBigUInt64LE(BigInt(attrEntry), 32);
    header.writeBigUInt64LE(BigInt(dataOff), 40);
    header.writeBigUInt64LE(BigInt(data.length), 48);
    let word = 0n;
    for (const bit of bits) word |= 1n << BigInt(bit);
    header.writeBigUInt64LE(word, 72);
    const idsSect = Buffer.alloc(16);
    idsSect.writeBigUInt64LE(BigInt(idsOff), 0);
    idsSect.writeBigUInt64LE(BigInt(ids.length), 8);
    return Buffer.concat([header, attr, idsSect, ids, data, table, ...payloads]);
  }

  write(path: string) {
    writeFileSync(path, this.toBuffer());
  }
}

function headerString(s: string): Buffer {
  const len = (s.length + 1 + 63) & ~63;
  const b = Buffer.alloc(4 + len);
  b.writeUInt32LE(len, 0);
  b.write(s, 4, 'latin1');
  return b;
}

function eventDesc(attr: Buffer, name: string): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(1, 0);
  head.writeUInt32LE(attr.length, 4);
  const nr = Buffer.alloc(4);
  nr.writeUInt32LE(1, 0);
  const id = Buffer.alloc(8);
  id.writeBigUInt64LE(ID, 0);
  return Buffer.concat([head, attr, nr, headerString(name), id]);
}

/** Reads "ADDR TYPE NAME" lines of a System.map / kallsyms file. */
export function parseSymbolMap(text: string): { addr: bigint; type: string; name: string }[] {
  const out: { addr: bigint; type: string; name: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-fA-F]+)\s+(\S)\s+(\S+)/.exec(line);
    if (m) out.push({ addr: BigInt(`0x${m[1]}`), type: m[2], name: m[3] });
  }
  return out;
}
