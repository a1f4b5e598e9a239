/**
 * The dashboard at `/` in a real browser: Debian's headless Chromium driven by playwright-core
 * (no browser download). It logs in, picks tokens, sees the table update, sees the `paused` badge
 * after a control pause, logs no console errors, and leaves a screenshot in the test's temp dir
 * (DASHBOARD_SCREENSHOT=path also copies it there, which is how docs/dashboard.png is made).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { controlClient } from '../helpers/control.ts';
import { startSystem } from '../helpers/system.ts';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
const sys = await startSystem({ after }, { simulator: true, env: { SIM_TOKENS: '12', SIM_RATE: '120' } });

let browser: Browser | undefined;
after(() => browser?.close());

test('log in, subscribe, watch the table update, see paused after a control pause', { skip: CHROMIUM ? false : 'Debian chromium is not installed (.ci/run installs it)' }, async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));

  const u = await sys.user();
  await page.goto(sys.baseUrl);
  await page.fill('#username', u.username);
  await page.fill('#password', u.password);
  await page.click('button[value="login"]');
  await page.waitForSelector('#conn.conn-connected', { timeout: 10_000 });

  const { body: instruments } = await sys.http('GET', '/api/instruments');
  const [a, b, c] = (instruments as { token: number }[]).map((i) => i.token).sort((x, y) => x - y);
  assert.ok(a && b && c, 'the simulator published some tokens');
  // The picker's search narrows the list; clicking a token subscribes it.
  for (const token of [a, b, c]) {
    await page.fill('#search', String(token));
    await page.click(`.pick[data-token="${token}"]`);
  }
  await page.fill('#search', '');
  const last = (token: number) => page.textContent(`tr[data-token="${token}"] .last`);
  await page.waitForFunction((t) => /\d/.test(document.querySelector(`tr[data-token="${t}"] .last`)?.textContent ?? ''), a, { timeout: 10_000 });
  const first = await last(a);
  await page.waitForFunction(([t, v]) => document.querySelector(`tr[data-token="${t}"] .last`)?.textContent !== v, [a, first] as const, { timeout: 10_000 });
  assert.match((await page.textContent(`tr[data-token="${a}"] .state`)) ?? '', /live/);
  assert.notEqual(await page.textContent('#lag'), '–', 'the lag of the last tick is shown');

  const ctl = controlClient({ after }, sys.config.controlBind);
  const reply = await ctl.send({ cmd: 'pause', tokens: [b] });
  assert.equal(reply.ok, true);
  await page.waitForSelector(`tr[data-token="${b}"] .state.state-paused`, { timeout: 5_000 });
  assert.match((await page.textContent(`tr[data-token="${a}"] .state`)) ?? '', /live/, 'other tokens stay live');

  const shot = path.join(sys.dir, 'dashboard.png');
  await page.screenshot({ path: shot });
  assert.ok(fs.statSync(shot).size > 5_000);
  if (process.env.DASHBOARD_SCREENSHOT) fs.copyFileSync(shot, process.env.DASHBOARD_SCREENSHOT);

  // Phone-sized: the table still fits without sideways scrolling.
  await page.setViewportSize({ width: 375, height: 700 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `page is ${overflow} px wider than a phone`);
  const tableOverflow = await page.evaluate(() => { const w = document.querySelector('.table-wrap')!; return w.scrollWidth - w.clientWidth; });
  assert.ok(tableOverflow <= 0, `the table is ${tableOverflow} px wider than a phone`);
  await page.screenshot({ path: path.join(sys.dir, 'dashboard-phone.png') });

  assert.deepEqual(problems, []);
});

test('the page and its script come from the gateway alone: a CSP of self, no external URL', async () => {
  const page = await sys.http('GET', '/');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  const script = await sys.http('GET', '/dashboard.js');
  assert.equal(script.status, 200);
  assert.match(script.headers.get('content-type') ?? '', /javascript/);
  for (const text of [String(page.body), String(script.body)]) assert.doesNotMatch(text, /https?:\/\/(?!www\.w3\.org)/);
});
