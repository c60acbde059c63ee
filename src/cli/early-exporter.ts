// `kvmlens exporter` is an always-on process whose threads all allocate
// (JS, V8's helpers, libuv's pool where the render runs, the drain thread).
// glibc gives each its own malloc arena, and each keeps what was freed in
// it: two arenas keep the exporter's resident memory ~10-15 MB lower under
// 50 scrapers (bench/README.md). The limit must be set before the pool
// threads first allocate, so bin/kvmlens.js calls this before the CLI loads.
import { limitMallocArenas } from '../core/native.ts';
import { commandPath, normalizeArgv } from './argv.ts';

export function prepareExporterProcess(argv: string[]): void {
  if (commandPath(normalizeArgv(argv))[0] !== 'exporter') return;
  try {
    limitMallocArenas(2);
  } catch {
    // No addon: the exporter reports that itself.
  }
}
