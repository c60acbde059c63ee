// Basic auth against bcrypt hashes (exporter-toolkit's basic_auth_users).
// bcrypt is deliberately slow (tens of ms in pure JS), so a successful check
// is cached by a SHA-256 of user and password, as exporter-toolkit does;
// unknown users are still checked against a dummy hash so that timing does
// not tell which user names exist.
import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { NextFunction, Request, Response } from 'express';

let dummyHash: string | undefined;
const MAX_CACHED = 1024;

function parseBasic(header: string | undefined): { user: string; pass: string } | undefined {
  const m = header && /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), pass: decoded.slice(colon + 1) };
}

export function basicAuth(users: Map<string, string>) {
  const verified = new Set<string>();
  return async (req: Request, res: Response, next: NextFunction) => {
    const creds = parseBasic(req.headers.authorization);
    if (creds) {
      const hash = users.get(creds.user);
      const fingerprint = createHash('sha256').update(`${creds.user}\u0000${creds.pass}\u0000${hash ?? ''}`).digest('hex');
      if (hash && verified.has(fingerprint)) return next();
      dummyHash ??= bcrypt.hashSync('kvmlens: no such user', 10);
      const ok = await bcrypt.compare(creds.pass, hash ?? dummyHash);
      if (ok && hash) {
        if (verified.size >= MAX_CACHED) verified.clear();
        verified.add(fingerprint);
        return next();
      }
    }
    res.set('WWW-Authenticate', 'Basic realm="kvmlens"').status(401).type('text/plain').send('Unauthorized\n');
  };
}
