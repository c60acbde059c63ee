// Runs the native unit-test drivers (native/test/*_test.cc) that the
// cmake-js build produced. Each is a plain program: exit 0 means pass.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const dirs = [join(root, 'build'), join(root, 'build', 'Release')];
const drivers = dirs
  .filter((d) => existsSync(d))
  .flatMap((d) => readdirSync(d).filter((f) => f.endsWith('_test')).map((f) => join(d, f)))
  .filter((p) => statSync(p).isFile());

if (drivers.length === 0) {
  test('native drivers are built', () => {
    assert.unreachable('no native test drivers under build/: run `npm install` (cmake-js builds them)');
  });
}
for (const driver of drivers) {
  test(`native ${driver.split('/').pop()}`, () => {
    const r = spawnSync(driver, [], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, KVMLENS_FIXTURES: join(root, 'test', 'fixtures') },
      timeout: 300_000,
    });
    assert.is(r.status, 0, `${driver} failed:\n${r.stdout}\n${r.stderr}`);
  });
}

test.run();
