// Builds the committed dashboard JSON from the TypeScript source:
//   node --import tsx dashboards/src/build.ts          write dashboards/*.json
//   node --import tsx dashboards/src/build.ts --check  exit 1 if the JSON is stale
// test/dashboards.test.ts runs the same comparison, so a source edit without
// a rebuild fails CI.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OVERVIEW_UID, overviewDashboard } from './overview.ts';
import { VM_UID, vmDashboard } from './vm.ts';

export const DASHBOARD_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

/** File name → dashboard JSON text, exactly as committed (2-space indent, trailing newline). */
export function renderDashboards(): Record<string, string> {
  const render = (d: unknown) => `${JSON.stringify(d, null, 2)}\n`;
  return {
    'kvmlens-overview.json': render(overviewDashboard(VM_UID)),
    'kvmlens-vm.json': render(vmDashboard(OVERVIEW_UID)),
  };
}

function main(args: string[]) {
  const check = args.includes('--check');
  let stale = 0;
  for (const [name, text] of Object.entries(renderDashboards())) {
    const path = join(DASHBOARD_DIR, name);
    if (check) {
      let current = '';
      try {
        current = readFileSync(path, 'utf8');
      } catch {}
      if (current !== text) {
        console.error(`${path} is stale: run node --import tsx dashboards/src/build.ts`);
        stale++;
      }
    } else {
      writeFileSync(path, text);
      console.log(`wrote ${path}`);
    }
  }
  return stale ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
