#!/usr/bin/env node
// Writes the HEADER_TRACING_DATA section of each perf.data file given as
// DIR/NAME.tracing: seeds for native/fuzz/fuzz_tracing_data, which parses
// that section (a whole perf.data file would fail at its magic at once).
//   node scripts/tracing-seeds.mjs OUT_DIR FILE...
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const [out, ...files] = process.argv.slice(2);
const kTracingData = 1;
for (const file of files) {
  const b = readFileSync(file);
  if (b.length < 104 || b.toString('latin1', 0, 8) !== 'PERFILE2') continue;
  const dataEnd = Number(b.readBigUInt64LE(40) + b.readBigUInt64LE(48));
  // Feature sections follow the data, one {offset, size} per set bit, in bit order.
  let index = 0;
  for (let bit = 0; bit < kTracingData; bit++) if (b[72 + (bit >> 3)] & (1 << (bit & 7))) index++;
  if (!(b[72] & (1 << kTracingData))) continue;
  const at = dataEnd + index * 16;
  if (at + 16 > b.length) continue;
  const offset = Number(b.readBigUInt64LE(at));
  const size = Number(b.readBigUInt64LE(at + 8));
  if (offset + size > b.length) continue;
  writeFileSync(join(out, `${basename(file)}.tracing`), b.subarray(offset, offset + size));
}
