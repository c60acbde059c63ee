// The HTTP side, with exporter-toolkit's conventions: landing page, metrics
// path, /-/healthy and /-/ready, optional TLS and basic auth from the web
// config file, one server per --web.listen-address.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import express, { type Request, type Response } from 'express';
import { acceptsGzip } from '../exposition.ts';
import { basicAuth } from './basic-auth.ts';
import { formatListenAddress, type ListenAddress } from './listen-address.ts';
import type { RenderedMetrics } from './render-cache.ts';

export type { RenderedMetrics } from './render-cache.ts';
import type { WebConfig } from './web-config.ts';


export interface WebHandlers {
  telemetryPath: string;
  /** Renders the exposition for a negotiated content type (`gzip`: the scrape sends the gzip). */
  render(accept: string | undefined, gzip: boolean): Promise<RenderedMetrics>;
  /** undefined = ready; else the reason it is not. */
  notReady(): string | undefined;
}

function landingPage(telemetryPath: string): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>kvmlens exporter</title></head>
<body>
<h1>kvmlens exporter</h1>
<p>KVM exit latency per VM and vCPU, for Prometheus and OpenTelemetry.</p>
<ul>
<li><a href="${esc(telemetryPath.replace(/^\//, ''))}">Metrics</a></li>
<li><a href="-/healthy">Health</a> · <a href="-/ready">Readiness</a></li>
</ul>
</body></html>
`;
}

/** Whether a TLS client sent a certificate that did not verify (VerifyClientCertIfGiven refuses it). */
function untrustedClientCert(req: IncomingMessage): boolean {
  const socket = req.socket as Partial<TLSSocket>;
  if (socket.encrypted && socket.getPeerCertificate && !socket.authorized) {
    const cert = socket.getPeerCertificate();
    return !!cert && Object.keys(cert).length > 0;
  }
  return false;
}

/** The telemetry path's handler, on Node's own request and response (express' are the same objects, extended). */
function metricsHandler(handlers: WebHandlers) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    try {
      // Prometheus sends Accept-Encoding: gzip; the text shrinks ~15 times.
      const gzip = acceptsGzip(req.headers['accept-encoding']);
      const rendered = await handlers.render(req.headers.accept, gzip);
      const chunks = gzip ? [await rendered.gzip()] : (await rendered.body()).chunks;
      res.setHeader('Content-Type', rendered.contentType);
      res.setHeader('Vary', 'Accept-Encoding');
      if (gzip) res.setHeader('Content-Encoding', 'gzip');
      res.setHeader('Content-Length', String(chunks.reduce((n, c) => n + c.length, 0)));
      for (const c of chunks) res.write(c);
      res.end();
    } catch (err) {
      const body = `error gathering metrics: ${err instanceof Error ? err.message : err}\n`;
      res.statusCode = 500;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.setHeader('Content-Length', String(Buffer.byteLength(body)));
      res.end(body);
    }
  };
}

/**
 * The request listener: GETs of exactly the telemetry path go straight to
 * its handler, other requests through express. Express' per-request work
 * (its request/response objects, router) made V8's heap grow by ~50 MB
 * under 50 concurrent scrapers; the direct path applies the same config
 * headers and client-certificate check, and leaves basic auth (and every
 * other path or method) to express.
 */
export function requestListener(handlers: WebHandlers, config: WebConfig, app: express.Express) {
  const metrics = metricsHandler(handlers);
  const direct = config.basicAuthUsers.size === 0;
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if (direct && req.method === 'GET' && (q < 0 ? url : url.slice(0, q)) === handlers.telemetryPath) {
      for (const [k, v] of Object.entries(config.headers)) res.setHeader(k, v);
      if (untrustedClientCert(req)) {
        res.statusCode = 403;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end('client certificate not trusted\n');
        return;
      }
      void metrics(req, res);
      return;
    }
    app(req, res);
  };
}

export function buildApp(handlers: WebHandlers, config: WebConfig): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((req, res, next) => {
    for (const [k, v] of Object.entries(config.headers)) res.set(k, v);
    // VerifyClientCertIfGiven: a certificate that was sent must verify.
    if (untrustedClientCert(req)) {
      res.status(403).type('text/plain').send('client certificate not trusted\n');
      return;
    }
    next();
  });
  if (config.basicAuthUsers.size > 0) app.use(basicAuth(config.basicAuthUsers));

  app.get('/', (_req, res) => {
    res.type('html').send(landingPage(handlers.telemetryPath));
  });
  app.get('/-/healthy', (_req, res) => {
    res.type('text/plain').send('Healthy\n');
  });
  app.get('/-/ready', (_req, res) => {
    const why = handlers.notReady();
    if (why) res.status(503).type('text/plain').send(`Not ready: ${why}\n`);
    else res.type('text/plain').send('Ready\n');
  });
  const metrics = metricsHandler(handlers);
  app.get(handlers.telemetryPath, (req: Request, res: Response) => metrics(req, res));
  return app;
}

function tlsOptions(config: WebConfig) {
  const tls = config.tls!;
  const requestCert = tls.clientAuthType !== 'NoClientCert';
  return {
    cert: tls.cert,
    key: tls.key,
    ca: tls.clientCa,
    minVersion: tls.minVersion,
    maxVersion: tls.maxVersion,
    requestCert,
    // Only these two make the handshake itself fail; VerifyClientCertIfGiven
    // is checked per request above, RequireAnyClientCert by the handshake's
    // "no certificate" alert below.
    rejectUnauthorized: tls.clientAuthType === 'RequireAndVerifyClientCert',
  };
}

export interface RunningServers {
  addresses: string[];
  close(): Promise<void>;
}

export async function listen(
  app: (req: IncomingMessage, res: ServerResponse) => void,
  addresses: ListenAddress[],
  config: WebConfig,
): Promise<RunningServers> {
  const servers: Server[] = [];
  const bound: string[] = [];
  try {
    for (const addr of addresses) {
      const server: Server = config.tls ? createHttpsServer(tlsOptions(config), app) : createHttpServer(app);
      if (config.tls?.clientAuthType === 'RequireAnyClientCert') {
        server.on('secureConnection', (s: TLSSocket) => {
          if (!s.getPeerCertificate() || Object.keys(s.getPeerCertificate()).length === 0) s.destroy();
        });
      }
      // Scrapes are short; do not let idle keep-alive sockets hold up shutdown for long.
      server.keepAliveTimeout = 5_000;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: addr.port, host: addr.host }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      servers.push(server);
      const a = server.address() as AddressInfo;
      bound.push(formatListenAddress({ host: addr.host ? a.address : undefined, port: a.port }));
    }
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    throw err;
  }
  return {
    addresses: bound,
    close: () =>
      Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      ).then(() => {}),
  };
}
