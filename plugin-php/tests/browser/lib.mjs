// Helpers of the browser tests: processes (a test shop served by `php -S`, the bridge, the
// provider sandboxes), polling with deadlines, PHP run inside the shop, and Chromium.
import { spawn, execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const pluginRoot = path.resolve(here, '..', '..');
export const repoRoot = path.resolve(pluginRoot, '..');
export const shopScripts = path.join(pluginRoot, 'tests', 'shop');
export const artifacts = path.join(repoRoot, 'target', 'plugin-artifacts');
export const php = process.env.PHP || 'php';

/** A free TCP port on 127.0.0.1. */
export function freePort() {
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

/** Whether `count` consecutive ports from `base` are free. */
async function portsFree(base, count) {
  for (let p = base; p < base + count; p++) {
    const free = await new Promise((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (!free) return false;
  }
  return true;
}

/** A base port with `count` free consecutive ports. */
export async function freePortRange(count) {
  for (let i = 0; i < 50; i++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    if (await portsFree(base, count)) return base;
  }
  throw new Error(`no ${count} free consecutive ports`);
}

/**
 * Polls `probe` until it returns a value other than undefined/null/false, or throws after
 * `ms` with `what` and the last value or error seen.
 */
export async function until(what, probe, ms = 30000, every = 100) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Child processes started by the tests, stopped by stopAll(). */
const children = [];

/** Starts a process whose output is kept (tail) for failure reports. */
export function start(name, cmd, args, options = {}) {
  const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  const entry = { name, child, out: '' };
  const keep = (d) => {
    entry.out += d;
    if (entry.out.length > 40000) entry.out = entry.out.slice(-40000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  children.push(entry);
  return entry;
}

export async function stop(entry) {
  if (entry.child.exitCode !== null || entry.child.signalCode !== null) return;
  const exited = new Promise((r) => entry.child.once('exit', r));
  entry.child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (entry.child.exitCode === null && entry.child.signalCode === null) entry.child.kill('SIGKILL');
}

export async function stopAll() {
  await Promise.all(children.map(stop));
}

/** The tail of every started process's output, for a failure report. */
export function processReport() {
  return children
    .map((c) => {
      const lines = c.out.split('\n').filter((l) => !/ (Accepted|Closing)$|\]: (GET|POST|HEAD) /.test(l));
      return `--- ${c.name} (exit ${c.child.exitCode ?? c.child.signalCode ?? 'running'}) ---\n${lines.slice(-25).join('\n')}`;
    })
    .join('\n');
}

export async function httpOk(url) {
  const r = await fetch(url).catch(() => null);
  return r && r.status < 500;
}

/**
 * Installs a shop with the repository's installer (tests/shop/install-shop.sh) and serves it.
 * Returns { dir, url, db, server }.
 */
export async function installShop({ wordpress, woocommerce, dir, db, hpos = 'on', plugin = 'none', workers = 4 }) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  execFileSync('bash', [path.join(shopScripts, 'install-shop.sh'), '--wordpress', wordpress, '--woocommerce', woocommerce,
    '--dir', dir, '--db', db, '--url', url, '--hpos', hpos, '--plugin', plugin, '--webhooks', 'async'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const server = start(`shop ${url}`, 'bash', [path.join(shopScripts, 'serve.sh'), dir, String(port), String(workers)]);
  await until(`the shop at ${url}`, () => httpOk(`${url}/wp-login.php`), 30000);
  return { dir, url, db, server };
}

/**
 * Runs the shop's due Action Scheduler actions once, as WP-Cron would: the queued webhook
 * deliveries. (Delivered during the checkout's own Store API request instead, WooCommerce
 * builds the payload without its v3 REST routes and sends `rest_no_route`.)
 */
export function runQueue(shop) {
  return Number(execFileSync(php, [path.join(shopScripts, 'run-scheduled.php'), shop.dir]).toString().trim().split('\n').pop());
}

/**
 * Runs PHP inside the shop (WordPress and the active plugins loaded) and returns what the
 * code returns, through JSON. `code` is the body of a function.
 */
export function wp(shop, code) {
  const script = `$_SERVER['HTTP_HOST'] = ${JSON.stringify(new URL(shop.url).host)};
require ${JSON.stringify(path.join(shop.dir, 'wp-load.php'))};
$pb_result = ( function () { ${code} } )();
echo "\\n@@PB@@" . wp_json_encode( $pb_result );`;
  const out = execFileSync(php, ['-d', 'display_errors=stderr', '-r', script], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const at = out.lastIndexOf('@@PB@@');
  assert.ok(at >= 0, `PHP printed no result: ${out.slice(-2000)}`);
  return JSON.parse(out.slice(at + 6));
}

/** The provider sandboxes (`printbridge sandbox`) on three consecutive ports. */
export async function startSandbox(bin) {
  const base = await freePortRange(3);
  const proc = start('sandbox', bin, ['sandbox', '--port', String(base)]);
  const urls = { spiff: `http://127.0.0.1:${base}`, apliiq: `http://127.0.0.1:${base + 1}`, key2print: `http://127.0.0.1:${base + 2}` };
  for (const u of Object.values(urls)) await until(`sandbox ${u}`, () => httpOk(`${u}/_sandbox/stats`), 20000);
  const stats = async () => (await fetch(`${urls.spiff}/_sandbox/stats`)).json();
  return { proc, urls, stats };
}

/**
 * Writes a bridge configuration for one store whose providers are the sandboxes, prints its
 * connection key with `printbridge connection-key`, and serves it. It configures no tax rate:
 * the bridge reads the shop's tax settings and rates over the REST API. Returns
 * { url, key, admin(path), proc }.
 */
export async function startBridge(bin, { dir, shopUrl, sandbox, rest }) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  fs.mkdirSync(dir, { recursive: true });
  const adminToken = 'adm_browser_test_token';
  const toml = `listen = "127.0.0.1:${port}"
database_url = "sqlite://${path.join(dir, 'bridge.db')}"
public_url = "${url}"
admin_token = "${adminToken}"
data_dir = "${path.join(dir, 'data')}"

[dispatch]
backoff_base_secs = 1
reconcile_interval_secs = 0

[[stores]]
id = "shop"
woocommerce_url = "${shopUrl}"
webhook_secret = "whsec_browser_${port}"
api_token = "tok_browser_${port}"
paid_statuses = ["processing", "completed"]
woocommerce_consumer_key = "${rest.key}"
woocommerce_consumer_secret = "${rest.secret}"

# The owner approves Apliiq orders in the order box before they are sent.
approval = ["apliiq"]

# The test shop's one payment gateway is cash on delivery, whose orders the bridge by default
# sends only once they are completed: this shop counts them as paid in processing.
[stores.payment_methods]
cod = ["processing", "completed"]

[stores.spiff]
base_url = "${sandbox.urls.spiff}"
api = "graphql"
application_key = "sandbox-spiff-application-key"

[stores.apliiq]
base_url = "${sandbox.urls.apliiq}"
app_id = "sandbox-apliiq-app"
shared_secret = "sandbox-apliiq-shared-secret"
default_shipping_code = "standard"

[stores.key2print]
base_url = "${sandbox.urls.key2print}"
api_key = "sandbox-key2print-key"
api_secret = "sandbox-key2print-secret"
`;
  const config = path.join(dir, 'printbridge.toml');
  fs.writeFileSync(config, toml);
  const key = execFileSync(bin, ['connection-key', '--store', 'shop', '--config', config]).toString().trim();
  assert.match(key, /^pbk1_[A-Za-z0-9_-]+$/);
  const proc = start('bridge', bin, ['serve', '--config', config], { cwd: dir, env: { ...process.env, PRINTBRIDGE_LOG: 'info' } });
  await until(`the bridge at ${url}`, async () => (await fetch(`${url}/readyz`).catch(() => null))?.ok, 30000);
  const admin = async (p) => {
    const r = await fetch(`${url}${p}`, { headers: { authorization: `Bearer ${adminToken}` } });
    assert.equal(r.status, 200, `GET ${p}: ${r.status}`);
    return r.json();
  };
  return { url, key, admin, proc, config };
}

/** Headless Chromium with only local requests allowed (anything else is recorded and aborted). */
export async function launchBrowser() {
  fs.mkdirSync(artifacts, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  return browser;
}

/** Pages opened by the tests, screenshot when a test fails. */
export const openPages = [];

/** Screenshots of every page still open, named `<prefix>-failed-<n>.png`. */
export async function failureShots(prefix) {
  let n = 0;
  for (const page of openPages) {
    if (page.isClosed()) continue;
    n += 1;
    await page.screenshot({ path: path.join(artifacts, `${prefix}-failed-${n}.png`), fullPage: true }).catch(() => {});
    console.error(`failed-${n}: ${page.url()}`);
  }
}

/** A fresh context (its own cookies) whose requests to other hosts are recorded and refused. */
export async function newContext(browser, { routes = {}, viewport = { width: 1200, height: 1000 } } = {}) {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(30000);
  context.setDefaultNavigationTimeout(60000);
  const foreign = [];
  context.on('page', (page) => openPages.push(page));
  await context.route('**/*', async (route) => {
    const u = new URL(route.request().url());
    for (const [prefix, handler] of Object.entries(routes)) {
      if (u.href.startsWith(prefix)) return handler(route);
    }
    if (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost') {
      foreign.push(u.href);
      return route.abort();
    }
    return route.continue();
  });
  return { context, foreign };
}

export function shot(page, name) {
  return page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

export function tmpDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
