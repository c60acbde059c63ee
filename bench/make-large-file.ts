// Builds a large kvm recording for benchmarks: one realistic block of
// samples (test/support/kvm-scenarios.ts) repeated with shifted timestamps
// until the file holds the requested number of samples.
import { closeSync, openSync, writeSync } from 'node:fs';
import { buildScenario, CPUID } from '../test/support/kvm-scenarios.ts';

export function makeLargeFile(template: string, out: string, samples: number, rounds: boolean): number {
  const writer = buildScenario(template, {
    name: 'bench', vendor: 'amd', seed: 11, vms: 4, vcpusPerVm: 4, exitsPerVcpu: 2500, cpus: 4, rounds,
  });
  const block = writer.toBuffer({ cpuid: CPUID.amd });
  const dataOff = Number(block.readBigUInt64LE(40));
  const dataSize = Number(block.readBigUInt64LE(48));
  const data = block.subarray(dataOff, dataOff + dataSize);
  // Sample offsets and the block's time span.
  const timeOffsets: number[] = [];
  let minT = 2n ** 64n - 1n;
  let maxT = 0n;
  for (let p = 0; p < data.length; p += data.readUInt16LE(p + 6)) {
    if (data.readUInt32LE(p) !== 9) continue;
    timeOffsets.push(p + 32);
    const t = data.readBigUInt64LE(p + 32);
    if (t < minT) minT = t;
    if (t > maxT) maxT = t;
  }
  const copies = Math.max(1, Math.ceil(samples / timeOffsets.length));
  const span = maxT - minT + 1000n;
  const fd = openSync(out, 'w');
  const header = Buffer.from(block.subarray(0, dataOff));
  header.writeBigUInt64LE(BigInt(dataSize * copies), 48);
  writeSync(fd, header);
  const copy = Buffer.from(data);
  for (let c = 0; c < copies; c++) {
    if (c > 0) {
      for (const off of timeOffsets) copy.writeBigUInt64LE(copy.readBigUInt64LE(off) + span, off);
    }
    writeSync(fd, copy);
  }
  // Feature table: offsets move by the added data.
  const tail = Buffer.from(block.subarray(dataOff + dataSize));
  const shift = BigInt(dataSize * (copies - 1));
  const features = popcount(block, 72);
  for (let i = 0; i < features; i++) tail.writeBigUInt64LE(tail.readBigUInt64LE(16 * i) + shift, 16 * i);
  writeSync(fd, tail);
  closeSync(fd);
  return copies * timeOffsets.length;
}

function popcount(b: Buffer, at: number): number {
  let n = 0;
  for (let w = 0; w < 4; w++) {
    let x = b.readBigUInt64LE(at + 8 * w);
    while (x) {
      n += Number(x & 1n);
      x >>= 1n;
    }
  }
  return n;
}
