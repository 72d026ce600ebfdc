#!/usr/bin/env node
// The web UI in a real browser: starts the real daemon, feeds it known traces over the
// Unix socket, drives Debian's headless Chromium through playwright-core and checks the
// list (live included), the waterfall, the span panel, deep links and a 5,000-span trace.
// Saves screenshots in --out. Waits only on conditions, each with a deadline.
//
//   node ui_browser_test.js --daemon build/daemon/tracecol --chromium /usr/bin/chromium --out build/ui
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { Daemon } = require('./daemon');
const traces = require('./traces');

const SKIP = 77;  // ctest SKIP_RETURN_CODE
const TIMEOUT = 15000;

function args() {
  const out = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  for (const k of ['daemon', 'chromium', 'out']) {
    if (!out[k]) { console.error(`usage: ui_browser_test.js --daemon PATH --chromium PATH --out DIR (missing --${k})`); process.exit(2); }
  }
  return out;
}

let playwright;
try {
  playwright = require('playwright-core');
} catch (_) {
  console.error(`playwright-core is not installed: run  npm ci --prefix ${__dirname}  (make deps does); skipping`);
  process.exit(SKIP);
}

const results = [];
async function step(name, fn) {
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  results.push({ name, ms });
  console.log(`ok - ${name} (${ms.toFixed(0)} ms)`);
  return value;
}

async function main() {
  const opt = args();
  fs.mkdirSync(opt.out, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tracecol-ui-'));
  const profile = fs.mkdtempSync(path.join(tmp, 'chromium-profile-'));
  const daemon = new Daemon(opt.daemon, tmp, ['--max-traces', '20000', '--trace-linger', '50ms']);
  let context = null;
  let page = null;
  try {
    const base = await step('daemon starts and reports its HTTP address', () => daemon.ready(TIMEOUT));

    await step('HTTP: GET / serves the UI with CSP, nosniff, ETag; 304 and HEAD work', async () => {
      const r = await fetch(`${base}/`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type'), /^text\/html/);
      const csp = r.headers.get('content-security-policy');
      assert.match(csp, /default-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(r.headers.get('cache-control'), 'no-cache');
      const etag = r.headers.get('etag');
      assert.match(etag, /^"[0-9a-f]{16}"$/);
      const html = await r.text();
      assert.match(html, /<script src="\/ui\/app.js" defer><\/script>/);
      const again = await fetch(`${base}/`, { headers: { 'If-None-Match': etag } });
      assert.equal(again.status, 304);
      assert.equal((await again.text()).length, 0);
      const head = await fetch(`${base}/ui/app.js`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.match(head.headers.get('content-type'), /^text\/javascript/);
      assert.ok(Number(head.headers.get('content-length')) > 1000);
      assert.equal((await head.text()).length, 0);
      assert.equal((await fetch(`${base}/ui/nope.js`)).status, 404);
      assert.equal((await fetch(`${base}/`, { method: 'POST', body: 'x' })).status, 405);
    });

    await step('feeds 10,000 bulk traces, then the demo traces (ok, error, deep, 5,000 spans, open)', async () => {
      await daemon.send(traces.bulkLines(10000));
      await daemon.send([...traces.okTrace.lines, ...traces.errorTrace.lines, ...traces.deepTrace.lines]);
      await daemon.send(traces.bigTrace.lines);
      await daemon.send(traces.openTrace.lines);
      const r = await (await fetch(`${base}/api/traces?run_id=ui-demo&limit=100`)).json();
      assert.equal(r.traces.length, 5);
    });

    context = await step('launches Debian Chromium (headless, empty profile)', () => playwright.chromium.launchPersistentContext(profile, {
      executablePath: opt.chromium,
      headless: true,
      viewport: { width: 1440, height: 860 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
      timeout: 60000,
    }));
    page = context.pages()[0] || await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('request', (req) => { if (!req.url().startsWith(base)) problems.push(`outside request: ${req.url()}`); });

    await step('list: newest first, paged and virtualized over 10,000+ traces', async () => {
      await page.goto(`${base}/`);
      await page.waitForFunction(() => Number(document.querySelector('#list-status').dataset.count) >= 200, null, { timeout: TIMEOUT });
      const ids = await page.$$eval('.trace-row', (rows) => rows.map((r) => r.dataset.traceId));
      assert.equal(ids[0], traces.openTrace.id, 'the newest trace is on top');
      assert.ok(ids.length < 100, `only visible rows are in the DOM (${ids.length})`);
      // Scrolling to the end of what is loaded fetches the next page (cursor paging).
      await page.$eval('#trace-list', (box) => { box.scrollTop = box.scrollHeight; });
      await page.waitForFunction(() => Number(document.querySelector('#list-status').dataset.count) >= 400, null, { timeout: TIMEOUT });
      const domRows = await page.$$eval('.trace-row', (rows) => rows.length);
      assert.ok(domRows < 100, `still only visible rows after paging (${domRows})`);
    });

    await step('list: run_id filter gives exactly the 5 demo traces; the error trace stands out', async () => {
      await page.$eval('#trace-list', (box) => { box.scrollTop = 0; });
      await page.fill('#f-run', 'ui-demo');
      await page.waitForFunction(() => {
        const s = document.querySelector('#list-status');
        return s.dataset.done === 'true' && s.dataset.count === '5' && document.querySelectorAll('.trace-row').length === 5;
      }, null, { timeout: TIMEOUT });
      const rows = await page.$$eval('.trace-row', (els) => els.map((r) => ({
        id: r.dataset.traceId, error: r.classList.contains('error'), running: r.classList.contains('running'),
        nameColor: getComputedStyle(r.querySelector('.name')).color, background: getComputedStyle(r).backgroundColor,
      })));
      assert.deepEqual(rows.map((r) => r.id), [traces.openTrace.id, traces.bigTrace.id, traces.deepTrace.id,
        traces.errorTrace.id, traces.okTrace.id]);
      assert.deepEqual(rows.map((r) => r.error), [false, false, false, true, false]);
      assert.equal(rows[0].running, true, 'the open trace is shown as running');
      const err = rows[3];
      assert.equal(err.nameColor, 'rgb(211, 47, 47)', 'error trace name is red');
      assert.notEqual(err.background, rows[4].background, 'error row has its own background');
    });

    await step('list: search (q), kind and errors-only filters narrow the list', async () => {
      const onlyRows = async (ids) => {
        await page.waitForFunction((want) => {
          const s = document.querySelector('#list-status');
          const got = [...document.querySelectorAll('.trace-row')].map((r) => r.dataset.traceId);
          return s.dataset.done === 'true' && !s.textContent.startsWith('Loading') && JSON.stringify(got) === JSON.stringify(want);
        }, ids, { timeout: TIMEOUT });
      };
      await page.fill('#f-q', 'PaymentGateway');
      await onlyRows([traces.errorTrace.id]);
      await page.fill('#f-q', '');
      await page.selectOption('#f-kind', 'TEAM');
      await onlyRows([traces.errorTrace.id]);
      await page.selectOption('#f-kind', '');
      await page.check('#f-error');
      await onlyRows([traces.errorTrace.id]);
      await page.uncheck('#f-error');
      await page.fill('#f-min', '2300');
      await onlyRows([traces.errorTrace.id, traces.okTrace.id]);
      await page.fill('#f-min', '');
      await onlyRows([traces.openTrace.id, traces.bigTrace.id, traces.deepTrace.id, traces.errorTrace.id, traces.okTrace.id]);
    });

    const liveMode = await step('live: a trace sent after page load appears on top without reload', async () => {
      await page.waitForFunction(() => ['live', 'polling'].includes(document.querySelector('#live-status').dataset.mode), null, { timeout: TIMEOUT });
      await page.evaluate(() => { window.__noReload = true; });
      const live = traces.liveTrace();
      await daemon.send(live.lines);
      await page.waitForFunction((id) => {
        const first = document.querySelector('.trace-row');
        return first && first.dataset.traceId === id;
      }, live.id, { timeout: TIMEOUT });
      assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was not reloaded');
      assert.equal(await page.$$eval('.trace-row', (r) => r.length), 6);
      await page.screenshot({ path: path.join(opt.out, 'ui-list.png') });
      return page.$eval('#live-status', (e) => e.dataset.mode);
    });
    console.log(`   live updates came by: ${liveMode === 'live' ? 'EventSource on /api/stream' : 'polling /api/traces (no /api/stream)'}`);

    await step('list: a trace from another year shows its whole start time, untruncated', async () => {
      const yearAgo = Number((Date.now() / 1000 - 400 * 86400).toFixed(6));
      const id = 'a1d0000000000000000000000000f00d';
      await daemon.send([
        JSON.stringify({ type: 'span', trace_id: id, span_id: '1', run_id: 'ui-old', name: 'old-agent', kind: 'AGENT', started_at: yearAgo, ended_at: yearAgo + 1 }),
        JSON.stringify({ type: 'trace_end', trace_id: id }),
      ]);
      await page.fill('#f-run', 'ui-old');
      await page.waitForFunction(() => {
        const rows = document.querySelectorAll('.trace-row');
        return rows.length === 1 && rows[0].dataset.traceId === 'a1d0000000000000000000000000f00d';
      }, null, { timeout: TIMEOUT });
      const cell = await page.$eval('.trace-row .time', (e) => ({ text: e.textContent, scroll: e.scrollWidth, client: e.clientWidth, title: e.title }));
      assert.match(cell.text, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$/, `start time with its year: ${cell.text}`);
      assert.ok(cell.scroll <= cell.client, `the start time fits its column (${cell.scroll} > ${cell.client} px)`);
      assert.match(cell.title, /^\d{4}-\d{2}-\d{2}T/);
      await page.fill('#f-run', 'ui-demo');
      await page.waitForFunction(() => document.querySelectorAll('.trace-row').length === 6 &&
        document.querySelector('#list-status').dataset.done === 'true', null, { timeout: TIMEOUT });
    });

    await step('trace view: waterfall rows in tree order, indented, error row red', async () => {
      await page.click(`.trace-row[data-trace-id="${traces.errorTrace.id}"]`);
      await page.waitForFunction((n) => document.querySelectorAll('.span-row').length === n, traces.errorTrace.spanCount, { timeout: TIMEOUT });
      assert.equal(new URL(page.url()).hash, `#/traces/${traces.errorTrace.id}`);
      const rows = await page.$$eval('.span-row', (els) => els.map((r) => ({
        depth: Number(r.dataset.depth), name: r.querySelector('.span-name').textContent, error: r.classList.contains('error'),
        indent: parseFloat(getComputedStyle(r.querySelector('.span-label')).paddingLeft),
        bar: getComputedStyle(r.querySelector('.bar')).backgroundColor,
        left: parseFloat(r.querySelector('.bar').style.left), width: parseFloat(r.querySelector('.bar').style.width),
      })));
      assert.deepEqual(rows.map((r) => r.depth), traces.errorTrace.depths);
      assert.deepEqual(rows.map((r) => r.name), traces.errorTrace.names);
      for (const r of rows) assert.equal(r.indent, rows[0].indent + r.depth * 14, `indent of ${r.name}`);
      assert.deepEqual(rows.map((r) => r.error), traces.errorTrace.names.map((n) => n === 'payments.refund'));
      const failed = rows.find((r) => r.error);
      assert.equal(failed.bar, 'rgb(211, 47, 47)', 'the failed span bar is red');
      assert.equal(rows[0].left, 0);
      assert.ok(Math.abs(rows[0].width - 100) < 0.01, 'the root spans the whole trace');
      for (const r of rows.slice(1)) assert.ok(r.left > 0 && r.left + r.width <= 100.01, `bar of ${r.name} inside the trace`);
      const kinds = await page.$$eval('.span-row', (els) => els.map((r) => getComputedStyle(r.querySelector('.bar')).backgroundColor));
      assert.ok(new Set(kinds).size >= 5, 'bars are coloured by kind');
    });

    await step('span panel: inputs, outputs, metadata and error of the clicked span', async () => {
      await page.click(`.span-row[data-span-id="${traces.errorTrace.errorSpanId}"]`);
      await page.waitForSelector(`#span-detail[data-span-id="${traces.errorTrace.errorSpanId}"]`, { timeout: TIMEOUT });
      const panel = await page.$eval('#span-detail', (p) => ({
        name: p.querySelector('.detail-name').textContent,
        error: p.querySelector('.detail-error .error-text').textContent,
        inputs: p.querySelector('.detail-inputs').textContent,
        outputs: p.querySelector('.detail-outputs').textContent,
        metadata: p.querySelector('.detail-metadata').textContent,
        selected: document.querySelector('.span-row.selected').dataset.spanId,
      }));
      assert.equal(panel.name, 'payments.refund');
      assert.match(panel.error, /^PaymentGatewayTimeout: no answer from gateway/);
      assert.match(panel.inputs, /order_id: 4411/);
      assert.match(panel.inputs, /currency: "EUR"/);
      assert.match(panel.outputs, /null/);
      assert.match(panel.metadata, /gateway: "acme-pay"/);
      assert.equal(panel.selected, traces.errorTrace.errorSpanId);
      // Nested JSON is collapsible: the root span's customer object toggles.
      await page.click('.span-row[data-span-id="0000000000000001"]');
      await page.waitForSelector('#span-detail[data-span-id="0000000000000001"] .detail-inputs details', { timeout: TIMEOUT });
      const toggled = await page.$eval('#span-detail .detail-inputs details details', (d) => {
        const before = d.open;
        d.querySelector('summary').click();
        return [before, d.open];
      });
      assert.deepEqual(toggled, [true, false]);
      await page.click(`.span-row[data-span-id="${traces.errorTrace.errorSpanId}"]`);
      await page.waitForSelector(`#span-detail[data-span-id="${traces.errorTrace.errorSpanId}"]`, { timeout: TIMEOUT });
      await page.screenshot({ path: path.join(opt.out, 'ui-trace.png') });
    });

    await step('tree tab: the as_tree text of GET /api/traces/{id}/tree', async () => {
      const expected = await (await fetch(`${base}/api/traces/${traces.errorTrace.id}/tree`)).text();
      await page.click('#tab-tree');
      await page.waitForSelector('#tree-pane:not([hidden])', { timeout: TIMEOUT });
      assert.equal(await page.$eval('#tree-text', (e) => e.textContent), expected);
      assert.match(expected, /payments\.refund/);
      await page.click('#tab-waterfall');
    });

    await step('deep link: /#/traces/{id} opens the deep tree; hostile names stay text', async () => {
      await page.goto(`${base}/#/traces/${traces.deepTrace.id}`);
      await page.waitForFunction((n) => document.querySelectorAll('.span-row').length === n, traces.deepTrace.depth, { timeout: TIMEOUT });
      const rows = await page.$$eval('.span-row', (els) => els.map((r) => ({
        depth: Number(r.dataset.depth), indent: parseFloat(getComputedStyle(r.querySelector('.span-label')).paddingLeft),
      })));
      assert.deepEqual(rows.map((r) => r.depth), [...Array(traces.deepTrace.depth).keys()]);
      for (let i = 1; i < rows.length; i++) assert.ok(rows[i].indent > rows[i - 1].indent, 'each level is indented further');
      const last = await page.$eval('.span-row:last-child .span-name', (e) => e.textContent);
      assert.equal(last, traces.deepTrace.hostileName);
      await page.click('.span-row:last-child');
      await page.waitForSelector('#span-detail .detail-inputs .json-string', { timeout: TIMEOUT });
      assert.equal(await page.$$eval('#waterfall img, #span-detail img, #span-detail script', (e) => e.length), 0);
      assert.equal(await page.evaluate(() => window.__xss), undefined);
    });

    const bigRender = await step('5,000-span trace renders at once with far fewer DOM rows', async () => {
      await page.goto(`${base}/#/traces/${traces.bigTrace.id}`);
      const t0 = Date.now();
      await page.waitForFunction(() => document.querySelector('#span-count').textContent === '5000 spans' &&
        document.querySelectorAll('.span-row').length > 0, null, { timeout: TIMEOUT });
      const ms = Date.now() - t0;
      const domRows = await page.$$eval('.span-row', (r) => r.length);
      assert.ok(domRows < 150, `virtualized: ${domRows} rows in the DOM`);
      await page.$eval('#waterfall', (box) => { box.scrollTop = box.scrollHeight; });
      await page.waitForSelector('.span-row[data-index="4999"]', { timeout: TIMEOUT });
      const after = await page.$$eval('.span-row', (r) => r.length);
      assert.ok(after < 150, `still virtualized at the bottom: ${after}`);
      return { ms, domRows };
    });
    console.log(`   5,000 spans: first rows after ${bigRender.ms} ms, ${bigRender.domRows} span rows in the DOM`);

    await step('open trace: its running span is drawn as running', async () => {
      await page.goto(`${base}/#/traces/${traces.openTrace.id}`);
      await page.waitForFunction(() => document.querySelectorAll('.span-row').length === 2, null, { timeout: TIMEOUT });
      const running = await page.$$eval('.span-row', (els) => els.map((r) => [r.classList.contains('running'), r.querySelector('.bar-label').textContent]));
      assert.deepEqual(running, [[true, 'running'], [false, '300 ms']]);
      const [left, width] = await page.$eval('.span-row.running .bar', (b) => [parseFloat(b.style.left), parseFloat(b.style.width)]);
      assert.ok(Math.abs(left + width - 100) < 0.01, 'a running span reaches the right edge (now)');
    });

    await step('unknown trace id: a message, not a crash', async () => {
      await page.goto(`${base}/#/traces/${'f'.repeat(32)}`);
      await page.waitForSelector('#trace-message:not([hidden])', { timeout: TIMEOUT });
      assert.match(await page.$eval('#trace-message', (e) => e.textContent), /trace not found/);
    });

    await step('no page errors, CSP violations or requests outside the daemon', async () => {
      // Without /api/stream the browser logs the refused EventSource once; that is the fallback.
      const real = problems.filter((p) => !/EventSource|api\/stream|404 \(Not Found\)/.test(p));
      assert.deepEqual(real, []);
    });

    await step('screenshot for the docs', async () => {
      await page.setViewportSize({ width: 1280, height: 620 });
      await page.goto(`${base}/#/traces/${traces.errorTrace.id}`);
      await page.waitForFunction((n) => document.querySelectorAll('.span-row').length === n, traces.errorTrace.spanCount, { timeout: TIMEOUT });
      await page.click(`.span-row[data-span-id="${traces.errorTrace.errorSpanId}"]`);
      await page.waitForSelector(`#span-detail[data-span-id="${traces.errorTrace.errorSpanId}"]`, { timeout: TIMEOUT });
      await page.screenshot({ path: path.join(opt.out, 'ui.png') });
    });
  } catch (e) {
    if (page) await page.screenshot({ path: path.join(opt.out, 'ui-failure.png') }).catch(() => {});
    console.error(`not ok - ${e.stack || e}`);
    console.error(`daemon stderr (tail):\n${daemon.stderr.slice(-3000)}`);
    process.exitCode = 1;
  } finally {
    if (context) await context.close().catch((e) => console.error(`closing chromium: ${e}`));
    const exit = await daemon.stop(20000).catch((e) => ({ error: String(e) }));
    if (exit.error || exit.code !== 0) {
      console.error(`daemon did not exit cleanly: ${JSON.stringify(exit)}`);
      process.exitCode = 1;
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (!process.exitCode) console.log(`screenshots: ${path.join(opt.out, 'ui.png')} (and ui-list.png, ui-trace.png)`);
}

main();
