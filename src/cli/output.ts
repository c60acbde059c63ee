// Where messages go: data on stdout, warnings and errors on stderr.
export function warn(message: string) {
  process.stderr.write(`kvmlens: warning: ${message}\n`);
}

export function fail(message: string) {
  process.stderr.write(`kvmlens: ${message}\n`);
}
