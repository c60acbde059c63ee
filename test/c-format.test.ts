// cFixed must print what glibc's printf("%.2f") prints, ties included.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cFixed } from '../src/report/c-format.ts';

const values = [0, 1.125, 0.125, 2.5, 0.005, 1.005, 99.995, -0.001, 123456.785, 1e-7, 0.015, 33.333333, 1e15 + 0.5, 4.5, 5.5, 0.045];
for (let i = 0; i < 300; i++) values.push(Math.round(Math.random() * 1e7) / 1000, Math.random() * 100);

test('matches glibc printf %.2f and %.0f on ties and random values', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmlens-cfmt-'));
  const src = join(dir, 'p.c');
  writeFileSync(
    src,
    '#include <stdio.h>\n#include <stdlib.h>\nint main(int c,char**v){for(int i=1;i<c;i++){double d=strtod(v[i],0);printf("%.2f %.0f\\n",d,d);}return 0;}\n',
  );
  try {
    execFileSync('cc', [src, '-o', join(dir, 'p')]);
  } catch {
    console.log('skip: no C compiler');
    return;
  }
  const out = execFileSync(join(dir, 'p'), values.map((v) => v.toPrecision(17))).toString().trim().split('\n');
  values.forEach((v, i) => {
    const parsed = Number(v.toPrecision(17));
    assert.is(`${cFixed(parsed, 2)} ${cFixed(parsed, 0)}`, out[i], `value ${v}`);
  });
});

test.run();
