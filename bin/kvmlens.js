#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

// `kvmlens ... | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err && err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    console.error(`kvmlens: ${err && err.message ? err.message : err}`);
    process.exitCode = 1;
  },
);
