// Headless-Chromium test of the product page rendered by PrintBridge: the Personalise flow of
// Spiff and Key2print (with local stand-ins of Spiff's api.js and the Key2print wrapper) ends
// with the design id in the submitted add-to-cart form, accepted by the plugin's validation.
// Screenshots go to target/plugin-artifacts/.
import { spawn, execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const pluginRoot = path.resolve(here, '..', '..');
const repoRoot = path.resolve(pluginRoot, '..');
const artifacts = path.join(repoRoot, 'target', 'plugin-artifacts');
const php = process.env.PHP || 'php';
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, deadlineMs) {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => { c.destroy(); resolve(true); });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

const children = [];
function serve(port, router, env) {
  const child = spawn(php, ['-S', `127.0.0.1:${port}`, router], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; if (stderr.length > 20000) stderr = stderr.slice(-20000); });
  children.push({ child, stderr: () => stderr });
  return child;
}

const sitePort = await freePort();
const bridgePort = await freePort();
const siteUrl = `http://127.0.0.1:${sitePort}`;
const bridgeLog = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pb-bridge-')), 'requests.log');
fs.writeFileSync(bridgeLog, '');
const env = { PRINTBRIDGE_WP_URL: siteUrl, PRINTBRIDGE_DB_NAME: process.env.PRINTBRIDGE_BROWSER_DB || 'printbridge_wp_browser' };

const ids = JSON.parse(
  execFileSync(php, [path.join(here, 'setup.php'), `http://127.0.0.1:${bridgePort}`], { env: { ...process.env, ...env } }).toString().trim().split('\n').pop(),
);
serve(bridgePort, path.join(pluginRoot, 'tests', 'bridge', 'router.php'), { PRINTBRIDGE_FAKE_LOG: bridgeLog });
serve(sitePort, path.join(here, 'router.php'), env);

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-chromium-'));
let context;
let failed = false;
try {
  await waitForPort(bridgePort, 10000);
  await waitForPort(sitePort, 10000);
  fs.mkdirSync(artifacts, { recursive: true });
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1000, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // Only local requests: anything else is a test failure.
  const foreign = [];
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.hostname !== '127.0.0.1') { foreign.push(u.href); return route.abort(); }
    return route.continue();
  });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));

  // --- Spiff ---------------------------------------------------------------------------------
  await page.goto(`${siteUrl}/product/${ids.spiff}`);
  const html = await page.content();
  assert.ok(!html.includes('tok_live'), 'the store token must never reach the browser');
  assert.ok(!html.includes('whsec_browser'), 'the webhook secret must never reach the browser');
  assert.equal(await page.locator('script[src*="/stand-ins/spiff-api.js"]').count(), 1);

  // The normal add-to-cart button opens the editor instead of submitting without a design.
  await page.fill('input[name="quantity"]', '3');
  await page.click('button.single_add_to_cart_button');
  await page.waitForSelector('#spiff-standin-finish');
  assert.equal(new URL(page.url()).pathname, `/product/${ids.spiff}`);
  await page.screenshot({ path: path.join(artifacts, 'spiff-editor-open.png') });
  const spiffLog = await page.evaluate(() => window.__spiffLog);
  assert.deepEqual(spiffLog[0], { call: 'IntegrationProduct', id: '649dfe36-bd0a-447e-a9f9-67bff7bc9a96' });
  assert.deepEqual(spiffLog[1], { call: 'Transaction', currency: 'EUR', product: '649dfe36-bd0a-447e-a9f9-67bff7bc9a96' });

  await Promise.all([page.waitForURL(`${siteUrl}/cart`), page.click('#spiff-standin-finish')]);
  const spiff = JSON.parse(await page.textContent('#submitted'));
  assert.equal(spiff.posted.printbridge_design_id, 'e3ac7f3a-a117-46d7-a5f0-232fbc7cfe38');
  assert.equal(spiff.posted.quantity, '3');
  assert.equal(spiff.posted['add-to-cart'], String(ids.spiff));
  assert.match(spiff.posted.printbridge_nonce, /^[0-9a-f]{10}$/);
  assert.equal(spiff.passed, true, JSON.stringify(spiff.notices));
  assert.deepEqual(spiff.item, { provider: 'spiff', design_id: 'e3ac7f3a-a117-46d7-a5f0-232fbc7cfe38' });
  await page.screenshot({ path: path.join(artifacts, 'spiff-submitted.png') });

  // --- Key2print -----------------------------------------------------------------------------
  await page.goto(`${siteUrl}/product/${ids.key2print}`);
  assert.ok(!(await page.content()).includes('tok_live'));
  await page.fill('input[name="quantity"]', '2');
  await page.click('#printbridge-personalise');
  await page.waitForSelector('#k2p-standin-frame');
  assert.equal(await page.textContent('#k2p-standin-token'), `sess-${ids.key2print}`);
  const k2pLog = await page.evaluate(() => window.__k2pLog);
  assert.deepEqual(k2pLog, [{ containerId: 'printbridge-k2p-editor', sessionToken: `sess-${ids.key2print}`, width: '100%', height: '420px', gateway: true }]);

  // The bridge was asked for the session server-side, with the bearer token and the exact body.
  const bridgeRequests = fs.readFileSync(bridgeLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(bridgeRequests.length, 1);
  assert.equal(bridgeRequests[0].method, 'POST');
  assert.equal(bridgeRequests[0].path, '/v1/stores/shop/key2print/sessions');
  assert.equal(bridgeRequests[0].auth, 'Bearer tok_live');
  const sessionBody = JSON.parse(bridgeRequests[0].body);
  assert.equal(sessionBody.mode, 'user');
  assert.equal(sessionBody.product_id, ids.key2print);
  assert.equal(sessionBody.template_id, 'tpl-7');
  assert.equal(sessionBody.gateway, true);
  assert.equal(sessionBody.customer.id, null);
  assert.match(sessionBody.customer.guest_key, /^[0-9a-f-]{36}$/);

  // The product gateway keeps the option selects in step.
  await page.click('#k2p-standin-a5');
  assert.equal(await page.inputValue('select[name="attribute_pa_format"]'), 'a5');
  assert.equal(await page.inputValue('select[name="attribute_finish"]'), 'gloss');
  await page.screenshot({ path: path.join(artifacts, 'key2print-editor-open.png'), fullPage: true });

  await Promise.all([page.waitForURL(`${siteUrl}/cart`), page.click('#k2p-standin-finish')]);
  const k2p = JSON.parse(await page.textContent('#submitted'));
  assert.equal(k2p.posted.printbridge_design_id, 'proj_42-A');
  assert.equal(k2p.posted.quantity, '2');
  assert.equal(k2p.posted.attribute_pa_format, 'a5');
  assert.equal(k2p.posted.attribute_finish, 'gloss');
  assert.equal(k2p.posted['add-to-cart'], String(ids.key2print));
  assert.equal(k2p.passed, true, JSON.stringify(k2p.notices));
  assert.deepEqual(k2p.item, { provider: 'key2print', design_id: 'proj_42-A' });
  await page.screenshot({ path: path.join(artifacts, 'key2print-submitted.png') });

  // A submission without a design (scripts bypassed) is refused by the server.
  const refused = await page.evaluate(async (id) => {
    const body = new URLSearchParams({ 'add-to-cart': String(id), quantity: '1', printbridge_design_id: '' });
    const r = await fetch('/cart', { method: 'POST', body });
    return r.text();
  }, ids.spiff);
  assert.match(refused, /&quot;passed&quot;: false/);

  assert.deepEqual(pageErrors, []);
  assert.deepEqual(foreign, []);
  console.log(`browser test passed; screenshots in ${artifacts}`);
} catch (e) {
  failed = true;
  console.error(e);
  for (const c of children) {
    const err = c.stderr().split('\n').filter((l) => /Fatal|Warning|Notice|Error/.test(l)).slice(-20).join('\n');
    if (err) console.error(`--- php -S stderr ---\n${err}`);
  }
} finally {
  if (context) await context.close().catch(() => {});
  for (const c of children) c.child.kill('SIGTERM');
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
