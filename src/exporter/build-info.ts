// The version kvmlens_build_info reports, read from package.json (two levels
// up from both src/exporter/ and dist/exporter/).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function kvmlensVersion(): string {
  if (cached === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'), 'utf8'));
      cached = String(pkg.version ?? 'unknown');
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
