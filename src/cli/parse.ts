// Option value parsers shared by commands; each throws a usage error that
// names the option.
import { InvalidArgumentError } from 'commander';

export function parseIntOption(name: string) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${name} expects an integer, got '${value}'`);
    return Number.parseInt(value, 10);
  };
}

/** "1234,5678" -> [1234, 5678] */
export function parsePidList(value: string): number[] {
  const pids = value.split(',').map((p) => p.trim()).filter(Boolean);
  if (pids.length === 0 || pids.some((p) => !/^\d+$/.test(p))) {
    throw new InvalidArgumentError(`expects a comma-separated list of process IDs, got '${value}'`);
  }
  return pids.map((p) => Number.parseInt(p, 10));
}
