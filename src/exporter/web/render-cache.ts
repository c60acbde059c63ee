// Which render a scrape gets. Concurrent scrapes of one format share one
// build (one snapshot, one text, one gzip), and with --web.max-render-age N
// a scrape may get a render whose snapshot was taken at most N before it
// arrived:
//
// - A render first lets the event loop read the requests already waiting on
//   their sockets (they join it), then takes the snapshot. It is shared while
//   in flight and, once a scraper asked for its gzip, until that is done.
// - With N > 0 the finished render is kept until its snapshot is N old;
//   scrapes meanwhile get it at once. When one arrives after N/2, the next
//   render starts in the background (gzipped too if the kept one was asked
//   for gzip) and replaces the kept one when done, so scrapers seldom wait
//   for a render. A scrape arriving after N never gets the kept render: it
//   waits for the next one (or joins one in flight). So a scrape gets a
//   snapshot at most N older than its arrival, or one that was being
//   rendered when it arrived; no render is kept longer than N.
// - N = 0: nothing is kept; every scrape renders (or joins one in flight).
// - Only the gzip of a kept render is held once it exists; a scrape without
//   Accept-Encoding: gzip then gets the text back by gunzip (~1/5 of a
//   render's cost), unless an earlier one already asked for the text.
// - A build may produce the gzip itself (the native render streams the text
//   through deflate, so no whole text exists): it is told which of text and
//   gzip the scrapes that joined before it started asked for; a later scrape
//   that wants the other gets it by gzip or gunzip of what there is.
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback } from 'node:zlib';
import type { Exposition } from '../exposition.ts';

const gunzipAsync = promisify(gunzipCallback);

export interface RenderedMetrics {
  contentType: string;
  /** The exposition text (gunzipped from the gzip if the text was let go). */
  body(): Promise<Exposition>;
  /** The body gzipped (computed once, on first use). */
  gzip(): Promise<Buffer>;
}

/** What a build may return instead of a text: its gzip, its text, or both. */
export interface BuiltRender {
  text?: Exposition;
  gzip?: Buffer;
}

export interface RenderCacheOptions {
  /** Longest time after a render's snapshot that the render is served; 0 = never reused. */
  maxAgeMs: number;
  /**
   * Builds the text for a content type (snapshot + collectors + exposition),
   * or its gzip; `want` says which the scrapes so far asked for.
   */
  build(contentType: string, want: { gzip: boolean; text: boolean }): Promise<Exposition | BuiltRender>;
  /** gzips a text. */
  gzip(body: Exposition): Promise<Buffer>;
  /** Frees a text no response will send (optional). */
  release?(body: Exposition): void;
  now?: () => number;
}

interface Render {
  /** When its snapshot was taken (just before build). */
  snapshotAt: number;
  result: Promise<RenderedMetrics>;
  /** Resolves once the body and, if it was asked for, the gzip are done. */
  settled: Promise<void>;
  gzipAsked: boolean;
  textAsked: boolean;
}

const pollOnce = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));

export class RenderCache {
  private readonly inFlight = new Map<string, Render>();
  private readonly kept = new Map<string, Render>();
  private readonly refreshing = new Map<string, Render>();
  private readonly now: () => number;

  constructor(private readonly opts: RenderCacheOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  /**
   * The render a scrape of `contentType` arriving now gets; `gzip` says
   * whether the scrape will send the gzip (default) or the text.
   */
  get(contentType: string, gzip = true): Promise<RenderedMetrics> {
    const arrived = this.now();
    const { maxAgeMs } = this.opts;
    const ask = (r: Render) => {
      if (gzip) r.gzipAsked = true;
      else r.textAsked = true;
      return r.result;
    };
    const kept = this.kept.get(contentType);
    if (kept && arrived - kept.snapshotAt <= maxAgeMs) {
      if (arrived - kept.snapshotAt > maxAgeMs / 2 && !this.refreshing.has(contentType) && !this.inFlight.has(contentType)) {
        this.refresh(contentType, kept, gzip);
      }
      return ask(kept);
    }
    if (kept) this.kept.delete(contentType);
    // A render in flight is shared (as with N = 0); a background one if its snapshot is at most N old.
    const pending = this.inFlight.get(contentType);
    if (pending) return ask(pending);
    const refreshing = this.refreshing.get(contentType);
    if (refreshing && (refreshing.snapshotAt === Infinity || arrived - refreshing.snapshotAt <= maxAgeMs)) return ask(refreshing);
    return ask(this.start(contentType, false));
  }

  /** Renders kept or in flight (for tests and memory accounting). */
  size(): number {
    return this.kept.size + this.inFlight.size + this.refreshing.size;
  }

  private refresh(contentType: string, previous: Render, gzip: boolean) {
    const r = this.start(contentType, true, previous.gzipAsked || gzip, previous.textAsked || !gzip);
    this.refreshing.set(contentType, r);
    const done = () => {
      if (this.refreshing.get(contentType) === r) this.refreshing.delete(contentType);
    };
    r.settled.then(() => {
      done();
      // The newer render replaces the kept one (unless it expired meanwhile and another took its place).
      const k = this.kept.get(contentType);
      if (!k || k.snapshotAt < r.snapshotAt) this.kept.set(contentType, r);
    }, done);
  }

  private start(contentType: string, background: boolean, preGzip = false, keepText = false): Render {
    const { maxAgeMs } = this.opts;
    let text: Exposition | undefined;
    let gzipped: Promise<Buffer> | undefined;
    let nativeGzip: Buffer | undefined;
    let textBack: Promise<Exposition> | undefined;
    let settle!: () => void;
    let fail!: (e: unknown) => void;
    const r: Render = {
      snapshotAt: Infinity,
      result: undefined as unknown as Promise<RenderedMetrics>,
      settled: new Promise<void>((res, rej) => {
        settle = res;
        fail = rej;
      }),
      gzipAsked: preGzip,
      textAsked: keepText,
    };
    r.settled.catch(() => {});
    const release = () => {
      if (this.inFlight.get(contentType) === r) this.inFlight.delete(contentType);
    };
    r.result = (async () => {
      if (!background) await pollOnce();
      r.snapshotAt = this.now();
      const made = await this.opts.build(contentType, { gzip: r.gzipAsked, text: r.textAsked });
      const built: Exposition | undefined = 'chunks' in made ? made : made.text;
      if (!('chunks' in made)) nativeGzip = made.gzip;
      text = built;
      const gzip = () => {
        if (!gzipped) {
          r.gzipAsked = true;
          if (nativeGzip) {
            gzipped = Promise.resolve(nativeGzip);
            return gzipped;
          }
          gzipped = this.opts.gzip(built!);
          // The text is not needed once the gzip exists, unless a scrape asked for it.
          gzipped.then(() => {
            if (maxAgeMs > 0 && !r.textAsked) {
              text = undefined;
              // Nothing will send the text: free it now rather than at some later collection.
              this.opts.release?.(built!);
            }
          }, () => {});
          if (!background && !this.inFlight.has(contentType) && !this.kept.has(contentType)) this.inFlight.set(contentType, r);
          gzipped.finally(release).catch(() => {});
        }
        return gzipped;
      };
      const body = () => {
        r.textAsked = true;
        if (text) return Promise.resolve(text);
        textBack ??= gzip().then((z) => gunzipAsync(z)).then((b) => ({ chunks: [b], length: b.length }));
        return textBack;
      };
      return { contentType, body, gzip };
    })();
    if (!background) this.inFlight.set(contentType, r);
    r.result.then(async (m) => {
      if (r.gzipAsked) await m.gzip();
    }).then(settle, fail);
    r.result.then(release, release);
    r.settled.then(
      () => {
        if (maxAgeMs > 0 && !background) {
          const k = this.kept.get(contentType);
          if (!k || k.snapshotAt < r.snapshotAt) this.kept.set(contentType, r);
        }
      },
      () => {},
    );
    return r;
  }
}
