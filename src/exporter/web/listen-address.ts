// exporter-toolkit's --web.listen-address syntax: "HOST:PORT", ":PORT" (every
// interface), "[v6]:PORT".

export interface ListenAddress {
  /** undefined = every interface. */
  host?: string;
  port: number;
}

export function parseListenAddress(value: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`--web.listen-address expects HOST:PORT, :PORT or [IPv6]:PORT, got '${value}'`);
  const host = m[1] ?? m[2];
  return { host: host ? host : undefined, port };
}

export function formatListenAddress(a: { host?: string; port: number }): string {
  if (!a.host) return `:${a.port}`;
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
