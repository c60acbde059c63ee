// --web.max-render-age: which render a scrape gets. A render is reused only
// while its snapshot is at most N old, refreshed in the background after
// N/2, never served after N; 0 renders per scrape (concurrent ones share).
import { gunzipSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gzipExposition, type Exposition } from '../src/exporter/exposition.ts';
import { RenderCache } from '../src/exporter/web/render-cache.ts';

const CT = 'text/plain';

/** A cache over a fake clock whose renders are numbered: the body is "render N\n". */
function setup(maxAgeMs: number) {
  let clock = 0;
  let built = 0;
  let gzips = 0;
  const cache = new RenderCache({
    maxAgeMs,
    now: () => clock,
    build: async () => {
      built++;
      const b = Buffer.from(`render ${built}\n`);
      return { chunks: [b], length: b.length } satisfies Exposition;
    },
    gzip: (body) => {
      gzips++;
      return gzipExposition(body);
    },
  });
  const text = async (p: Promise<{ body(): Promise<Exposition> }>) => Buffer.concat((await (await p).body()).chunks).toString();
  const zipped = async (p: Promise<{ gzip(): Promise<Buffer> }>) => gunzipSync(await (await p).gzip()).toString();
  const settle = () => new Promise((r) => setTimeout(r, 20));
  return {
    cache,
    text,
    zipped,
    settle,
    at: (ms: number) => (clock = ms),
    counts: () => ({ built, gzips }),
  };
}

test('0: every scrape renders; concurrent scrapes share the render in flight', async () => {
  const t = setup(0);
  const a = t.cache.get(CT);
  const b = t.cache.get(CT);
  assert.is(a, b);
  assert.is(await t.text(a), 'render 1\n');
  await t.settle();
  assert.is(await t.text(t.cache.get(CT)), 'render 2\n');
  await t.settle();
  assert.is(t.cache.size(), 0, 'nothing is kept');
});

test('N: reused until its snapshot is N/2 old, refreshed in the background after that, never served after N', async () => {
  const t = setup(1000);
  t.at(0);
  assert.is(await t.zipped(t.cache.get(CT)), 'render 1\n');
  await t.settle();
  t.at(400);
  assert.is(await t.zipped(t.cache.get(CT)), 'render 1\n', 'reused within N/2');
  assert.equal(t.counts(), { built: 1, gzips: 1 });
  t.at(700);
  // Past N/2: still the kept render, but the next one starts (gzipped too, as the kept one was).
  assert.is(await t.zipped(t.cache.get(CT)), 'render 1\n');
  await t.settle();
  assert.equal(t.counts(), { built: 2, gzips: 2 });
  t.at(1000);
  assert.is(await t.zipped(t.cache.get(CT)), 'render 2\n', 'the background render replaced it');
  // Its snapshot was taken at 700: at 1701 it is too old, the scrape waits for a new render.
  t.at(1701);
  assert.is(await t.zipped(t.cache.get(CT)), 'render 3\n');
  await t.settle();
  // Once the gzip exists, a plain scrape gets the same text back from it.
  assert.is(await t.text(t.cache.get(CT)), 'render 3\n');
  assert.is(t.counts().built, 3);
});

test('N: a render that failed is not kept', async () => {
  let fail = true;
  const cache = new RenderCache({
    maxAgeMs: 1000,
    now: () => 0,
    build: async () => {
      if (fail) throw new Error('snapshot failed');
      return { chunks: [Buffer.from('ok\n')], length: 3 };
    },
    gzip: gzipExposition,
  });
  await cache.get(CT).then(
    () => assert.unreachable(),
    (e: Error) => assert.is(e.message, 'snapshot failed'),
  );
  await new Promise((r) => setTimeout(r, 10));
  fail = false;
  const r = await cache.get(CT);
  assert.is(Buffer.concat((await r.body()).chunks).toString(), 'ok\n');
});

test.run();
