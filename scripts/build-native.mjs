#!/usr/bin/env node
// Builds the native addon, then compiles the TypeScript to dist/.
// KVMLENS_BUILD=gyp builds with node-gyp from binding.gyp instead of cmake-js;
// both read native/sources.txt, so they compile the same code.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`kvmlens: build step failed: ${cmd} ${args.join(' ')}`);
    process.exit(r.status ?? 1);
  }
}

const jobs = String(Math.max(1, (await import('node:os')).availableParallelism()));
if (process.env.KVMLENS_BUILD === 'gyp') {
  // node-gyp needs Node's headers: npm passes its `nodedir` setting as
  // npm_config_nodedir; outside npm use the distribution's (/usr/include/node)
  // rather than downloading them.
  const nodedir = process.env.npm_config_nodedir ?? (existsSync('/usr/include/node/common.gypi') ? '/usr' : undefined);
  run(bin('node-gyp'), ['rebuild', '-j', jobs, ...(nodedir ? [`--nodedir=${nodedir}`] : [])]);
} else {
  const extra = process.env.KVMLENS_SANITIZE ? ['--CDKVMLENS_SANITIZE=ON'] : [];
  run(bin('cmake-js'), ['compile', '-d', 'native', '-O', 'build', '-p', jobs, '-l', 'warn', ...extra]);
}
if (!process.env.KVMLENS_SKIP_TSC && existsSync(bin('tsc'))) run(bin('tsc'), ['-p', 'tsconfig.build.json']);
