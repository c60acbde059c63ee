// Test support: writes perf.data files carrying kvm events. Our machines
// have no /dev/kvm, so kvm samples are synthesized — into the real file
// format, using a TEMPLATE recorded by real `perf kvm stat record` on this
// machine: its attrs, ids and feature sections (tracing data with the
// kernel's own kvm formats, CPUID, ...) are copied; only the data section is
// ours. Raw payloads are laid out at the offsets of the template's formats.
import { readFileSync, writeFileSync } from 'node:fs';

export type KvmEventName = 'kvm_entry' | 'kvm_exit' | 'kvm_mmio' | 'kvm_pio' | 'kvm_msr';

export interface KvmSample {
  event: KvmEventName;
  time: bigint;
  pid: number;
  tid: number;
  cpu: number;
  fields: Record<string, number | bigint>;
}

interface Format {
  id: number;
  fields: Map<string, { offset: number; size: number }>;
  entrySize: number;
}

interface TemplateAttr {
  bytes: Buffer;       // perf_event_attr as stored
  ids: bigint[];
  config: bigint;
  type: number;
}

const FEATURE_TRACING_DATA = 1;
const FEATURE_CPUID = 9;

export class PerfDataWriter {
  readonly formats = new Map<string, Format>();
  private attrs: TemplateAttr[] = [];
  private features = new Map<number, Buffer>();
  private records: Buffer[] = [];
  private recordBytes = 0;

  constructor(templatePath: string) {
    const f = readFileSync(templatePath);
    if (f.toString('latin1', 0, 8) !== 'PERFILE2') throw new Error(`${templatePath}: not a perf.data file`);
    const attrSize = Number(f.readBigUInt64LE(16));
    const attrsOff = Number(f.readBigUInt64LE(24));
    const attrsSize = Number(f.readBigUInt64LE(32));
    const dataOff = Number(f.readBigUInt64LE(40));
    const dataSize = Number(f.readBigUInt64LE(48));
    for (let off = attrsOff; off < attrsOff + attrsSize; off += attrSize) {
      const bytes = Buffer.from(f.subarray(off, off + attrSize - 16));
      const idsOff = Number(f.readBigUInt64LE(off + attrSize - 16));
      const idsSize = Number(f.readBigUInt64LE(off + attrSize - 8));
      const ids: bigint[] = [];
      for (let p = idsOff; p < idsOff + idsSize; p += 8) ids.push(f.readBigUInt64LE(p));
      this.attrs.push({ bytes, ids, type: bytes.readUInt32LE(0), config: bytes.readBigUInt64LE(8) });
    }
    let rank = 0;
    const table = dataOff + dataSize;
    for (let bit = 0; bit < 256; bit++) {
      const word = f.readBigUInt64LE(72 + 8 * Math.floor(bit / 64));
      if (((word >> BigInt(bit % 64)) & 1n) === 0n) continue;
      const entry = table + 16 * rank++;
      const off = Number(f.readBigUInt64LE(entry));
      const size = Number(f.readBigUInt64LE(entry + 8));
      this.features.set(bit, Buffer.from(f.subarray(off, off + size)));
    }
    const tracing = this.features.get(FEATURE_TRACING_DATA);
    if (!tracing) throw new Error(`${templatePath}: no tracing data`);
    this.parseKvmFormats(tracing);
  }

  /** Finds the kvm event formats in the tracing data section (format text scan). */
  private parseKvmFormats(tracing: Buffer) {
    const text = tracing.toString('latin1');
    const re = /name: (kvm_\w+)\nID: (\d+)\nformat:\n([\s\S]*?)\nprint fmt:/g;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const fields = new Map<string, { offset: number; size: number }>();
      let end = 0;
      for (const fm of m[3].matchAll(/field:[^;]*?(\w+)(?:\[\d*\])?;\s*offset:(\d+);\s*size:(\d+);/g)) {
        const offset = Number(fm[2]);
        const size = Number(fm[3]);
        fields.set(fm[1], { offset, size });
        end = Math.max(end, offset + size);
      }
      this.formats.set(m[1], { id: Number(m[2]), fields, entrySize: end });
    }
    for (const e of ['kvm_entry', 'kvm_exit', 'kvm_mmio', 'kvm_pio', 'kvm_msr']) {
      if (!this.formats.has(e)) throw new Error(`template has no ${e} format`);
    }
  }

  private attrFor(event: KvmEventName): TemplateAttr {
    const id = BigInt(this.formats.get(event)!.id);
    const a = this.attrs.find((x) => x.type === 2 && x.config === id);
    if (!a) throw new Error(`template has no attr for kvm:${event}`);
    return a;
  }

  sample(s: KvmSample): this {
    const fmt = this.formats.get(s.event)!;
    const rawSize = ((fmt.entrySize + 4 + 7) & ~7) - 4;
    const raw = Buffer.alloc(rawSize);
    raw.writeUInt16LE(fmt.id, 0);
    raw.writeInt32LE(s.pid, 4);
    for (const [name, value] of Object.entries(s.fields)) {
      const f = fmt.fields.get(name);
      if (!f) throw new Error(`kvm:${s.event} has no field ${name}`);
      const v = BigInt(value);
      if (f.size === 8) raw.writeBigUInt64LE(BigInt.asUintN(64, v), f.offset);
      else if (f.size === 4) raw.writeUInt32LE(Number(BigInt.asUintN(32, v)), f.offset);
      else if (f.size === 2) raw.writeUInt16LE(Number(BigInt.asUintN(16, v)), f.offset);
      else raw.writeUInt8(Number(BigInt.asUintN(8, v)), f.offset);
    }
    const attr = this.attrFor(s.event);
    const id = attr.ids[s.cpu % attr.ids.length];
    // sample_type IP|TID|TIME|CPU|PERIOD|RAW|IDENTIFIER, in the ABI's order.
    const size = 8 + 8 + 8 + 8 + 8 + 8 + 8 + 4 + rawSize;
    const rec = Buffer.alloc(size);
    rec.writeUInt32LE(9, 0); // PERF_RECORD_SAMPLE
    rec.writeUInt16LE(1, 4); // PERF_RECORD_MISC_KERNEL
    rec.writeUInt16LE(size, 6);
    rec.writeBigUInt64LE(id, 8);
    rec.writeBigUInt64LE(0xffffffff81000000n, 16); // ip
    rec.writeInt32LE(s.pid, 24);
    rec.writeInt32LE(s.tid, 28);
    rec.writeBigUInt64LE(s.time, 32);
    rec.writeUInt32LE(s.cpu, 40);
    rec.writeBigUInt64LE(1n, 48); // period
    rec.writeUInt32LE(rawSize, 56);
    raw.copy(rec, 60);
    return this.push(rec);
  }

  finishedRound(): this {
    const rec = Buffer.alloc(8);
    rec.writeUInt32LE(68, 0);
    rec.writeUInt16LE(8, 6);
    return this.push(rec);
  }

  /** Raw bytes appended to the data section (for damaged-file tests). */
  rawRecord(bytes: Buffer): this {
    return this.push(bytes);
  }

  private push(rec: Buffer): this {
    this.records.push(rec);
    this.recordBytes += rec.length;
    return this;
  }

  get dataSize() {
    return this.recordBytes;
  }

  /** cpuid: replaces HEADER_CPUID ("GenuineIntel,6,85,4"); null drops it. */
  toBuffer(opts: { cpuid?: string | null } = {}): Buffer {
    const features = new Map(this.features);
    if (opts.cpuid === null) features.delete(FEATURE_CPUID);
    else if (opts.cpuid !== undefined) features.set(FEATURE_CPUID, headerString(opts.cpuid));
    const attrSize = this.attrs[0].bytes.length + 16;
    const headerSize = 104;
    const attrsOff = headerSize;
    const attrsSize = attrSize * this.attrs.length;
    let idsOff = attrsOff + attrsSize;
    const idsBlocks: Buffer[] = [];
    const attrBlocks: Buffer[] = [];
    for (const a of this.attrs) {
      const ids = Buffer.alloc(8 * a.ids.length);
      a.ids.forEach((id, i) => ids.writeBigUInt64LE(id, 8 * i));
      const sect = Buffer.alloc(16);
      sect.writeBigUInt64LE(BigInt(idsOff), 0);
      sect.writeBigUInt64LE(BigInt(ids.length), 8);
      attrBlocks.push(a.bytes, sect);
      idsBlocks.push(ids);
      idsOff += ids.length;
    }
    const dataOff = idsOff;
    const dataSize = this.recordBytes;
    const bits = [...features.keys()].sort((a, b) => a - b);
    const tableOff = dataOff + dataSize;
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
    header.writeBigUInt64LE(BigInt(attrSize), 16);
    header.writeBigUInt64LE(BigInt(attrsOff), 24);
    header.writeBigUInt64LE(BigInt(attrsSize), 32);
    header.writeBigUInt64LE(BigInt(dataOff), 40);
    header.writeBigUInt64LE(BigInt(dataSize), 48);
    for (const bit of bits) {
      const word = 72 + 8 * Math.floor(bit / 64);
      header.writeBigUInt64LE(header.readBigUInt64LE(word) | (1n << BigInt(bit % 64)), word);
    }
    return Buffer.concat([header, ...attrBlocks, ...idsBlocks, ...this.records, table, ...payloads]);
  }

  write(path: string, opts: { cpuid?: string | null } = {}) {
    writeFileSync(path, this.toBuffer(opts));
  }
}

function headerString(s: string): Buffer {
  const len = (s.length + 1 + 63) & ~63; // perf pads strings to 64 bytes
  const b = Buffer.alloc(4 + len);
  b.writeUInt32LE(len, 0);
  b.write(s, 4, 'latin1');
  return b;
}
