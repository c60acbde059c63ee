// --web.config.file: the exporter-toolkit YAML (TLS and basic auth), so one
// file works for node_exporter and kvmlens alike. Unknown keys are errors,
// as in exporter-toolkit (a typo must not silently turn TLS off).
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';

export type ClientAuthType =
  | 'NoClientCert'
  | 'RequestClientCert'
  | 'RequireAnyClientCert'
  | 'VerifyClientCertIfGiven'
  | 'RequireAndVerifyClientCert';

export interface TlsConfig {
  cert: Buffer;
  key: Buffer;
  clientCa?: Buffer;
  clientAuthType: ClientAuthType;
  minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
}

export interface WebConfig {
  tls?: TlsConfig;
  /** user -> bcrypt hash */
  basicAuthUsers: Map<string, string>;
  headers: Record<string, string>;
}

const TLS_VERSIONS = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;
const CLIENT_AUTH: ClientAuthType[] = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
];

function checkKeys(where: string, obj: Record<string, unknown>, allowed: string[]) {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new Error(`${where}: unknown key '${k}' (known: ${allowed.join(', ')})`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function tlsVersion(file: string, key: string, v: unknown) {
  if (v === undefined) return undefined;
  const mapped = TLS_VERSIONS[String(v) as keyof typeof TLS_VERSIONS];
  if (!mapped) throw new Error(`${file}: tls_server_config.${key} must be one of ${Object.keys(TLS_VERSIONS).join(', ')}`);
  return mapped;
}

/** Parses the YAML text; relative file names resolve against the config file's directory. */
export function parseWebConfig(text: string, file: string): WebConfig {
  const doc = (parse(text) ?? {}) as unknown;
  if (!isObject(doc)) throw new Error(`${file}: expected a YAML mapping`);
  checkKeys(file, doc, ['tls_server_config', 'basic_auth_users', 'http_server_config']);
  const base = dirname(resolve(file));
  const read = (p: unknown, what: string) => {
    if (typeof p !== 'string' || !p) throw new Error(`${file}: ${what} is required`);
    return readFileSync(resolve(base, p));
  };

  let tls: TlsConfig | undefined;
  const t = doc.tls_server_config;
  if (t !== undefined && t !== null) {
    if (!isObject(t)) throw new Error(`${file}: tls_server_config must be a mapping`);
    checkKeys(`${file}: tls_server_config`, t, [
      'cert_file',
      'key_file',
      'client_ca_file',
      'client_auth_type',
      'min_version',
      'max_version',
      'cipher_suites',
      'curve_preferences',
      'prefer_server_cipher_suites',
      'client_allowed_sans',
    ]);
    const clientAuthType = (t.client_auth_type ?? 'NoClientCert') as ClientAuthType;
    if (!CLIENT_AUTH.includes(clientAuthType)) {
      throw new Error(`${file}: tls_server_config.client_auth_type must be one of ${CLIENT_AUTH.join(', ')}`);
    }
    tls = {
      cert: read(t.cert_file, 'tls_server_config.cert_file'),
      key: read(t.key_file, 'tls_server_config.key_file'),
      clientCa: t.client_ca_file ? read(t.client_ca_file, 'tls_server_config.client_ca_file') : undefined,
      clientAuthType,
      minVersion: tlsVersion(file, 'min_version', t.min_version) ?? 'TLSv1.2',
      maxVersion: tlsVersion(file, 'max_version', t.max_version),
    };
    if (clientAuthType.includes('Verify') && !tls.clientCa) {
      throw new Error(`${file}: client_auth_type ${clientAuthType} needs client_ca_file`);
    }
  }

  const basicAuthUsers = new Map<string, string>();
  const users = doc.basic_auth_users;
  if (users !== undefined && users !== null) {
    if (!isObject(users)) throw new Error(`${file}: basic_auth_users must map user names to bcrypt hashes`);
    for (const [user, hash] of Object.entries(users)) {
      if (typeof hash !== 'string' || !/^\$2[abxy]?\$\d\d\$/.test(hash)) {
        throw new Error(`${file}: basic_auth_users.${user} must be a bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\\n')`);
      }
      basicAuthUsers.set(user, hash);
    }
  }

  const headers: Record<string, string> = {};
  const http = doc.http_server_config;
  if (isObject(http)) {
    checkKeys(`${file}: http_server_config`, http, ['http2', 'headers']);
    if (isObject(http.headers)) for (const [k, v] of Object.entries(http.headers)) headers[k] = String(v);
  }
  return { tls, basicAuthUsers, headers };
}

export function loadWebConfig(file: string | undefined): WebConfig {
  if (!file) return { basicAuthUsers: new Map(), headers: {} };
  return parseWebConfig(readFileSync(file, 'utf8'), file);
}
