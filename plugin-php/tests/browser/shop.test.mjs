// Browser tests of PrintBridge in a real WooCommerce shop (headless Chromium, playwright-core).
//
//   node shop.test.mjs --wordpress WP_ARCHIVE --woocommerce WC_ARCHIVE [--smoke]
//
// A shop is installed from the archives by tests/shop/install-shop.sh and served by `php -S`;
// the real bridge (PRINTBRIDGE_BIN) runs against the provider sandboxes (`printbridge sandbox`).
// The full run: the owner uploads the plugin zip, activates it, pastes the connection key, tests
// the connection and creates one new product per provider; a customer personalises (local
// stand-ins of Spiff's api.js and the Key2print wrapper), adds to the classic and the block cart
// and checks out with the block checkout (cash on delivery: the order is processing, i.e.
// paid); the shop delivers its webhooks to the bridge; exactly one order per provider reaches the
// sandboxes; the order notes and the PrintBridge box show on the order screen; the Store API
// carries the design id; editor load failures end in a message with nothing added to the cart;
// a webhook disabled by WooCommerce after failed deliveries is re-enabled from the notice. The
// shop enters and shows prices with tax (20 % at its base address); the bridge reads its tax
// settings and rates over the REST API, and the editor's price of a setup is the cart line, the
// order total and the amount the bridge recorded.
// --smoke: upload, connect, one Spiff product, checkout, one Spiff order.
// Screenshots: target/plugin-artifacts/<pair>-*.png.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  here, pluginRoot, shopScripts, installShop, wp, startSandbox, startBridge, launchBrowser, newContext,
  shot, until, stop, stopAll, processReport, tmpDir, failureShots, runQueue,
} from './lib.mjs';

const { values: args } = parseArgs({
  options: {
    wordpress: { type: 'string' },
    woocommerce: { type: 'string' },
    smoke: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
assert.ok(args.wordpress && args.woocommerce, 'usage: shop.test.mjs --wordpress ARCHIVE --woocommerce ARCHIVE [--smoke]');
const bin = process.env.PRINTBRIDGE_BIN;
assert.ok(bin && fs.existsSync(bin), 'PRINTBRIDGE_BIN must name the printbridge binary');
const label = `${path.basename(args.wordpress).replace(/\.tar.*|\.zip$/, '')}+${path.basename(args.woocommerce).replace(/\.tar.*|\.zip$/, '')}`;
const prefix = args.smoke ? 'smoke' : 'full';

// Stand-ins of the provider scripts, served by the browser in place of the real URLs.
// The bridge's Spiff region is the default (us): the current storefront script.
const SPIFF_JS = 'https://assets.us.spiffcommerce.com/api.js';
const K2P_JS = 'https://editor.key2print.test/js/wrapper.js';
const standIn = (file) => (route) => route.fulfill({ status: 200, contentType: 'application/javascript', body: fs.readFileSync(path.join(here, 'stand-ins', file)) });
const providerRoutes = { [SPIFF_JS]: standIn('spiff-api.js'), [K2P_JS]: standIn('k2p-wrapper.js') };
// Where the editor stand-in asks for the price of a setup (answered from the bridge's gateway).
const K2P_PRICE = 'https://editor.key2print.test/price';

const SPIFF_PRODUCT = '649dfe36-bd0a-447e-a9f9-67bff7bc9a96';
const SPIFF_TRANSACTION = 'e3ac7f3a-a117-46d7-a5f0-232fbc7cfe38';
const K2P_PROJECT = 'proj_42-A';
const APLIIQ_SKU = 'APQ-1998244S7A1';

const steps = [];
async function step(name, fn) {
  const t0 = Date.now();
  process.stdout.write(`[${label}] ${name} ... `);
  const r = await fn();
  const ms = Date.now() - t0;
  steps.push({ name, ms });
  console.log(`ok (${(ms / 1000).toFixed(1)} s)`);
  return r;
}

/** Clicks something that submits a form and waits for the next page to have loaded. */
async function submit(page, click) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load', timeout: 60000 }), click()]);
}

// --- the store owner --------------------------------------------------------------------------

async function login(page, shop) {
  await page.goto(`${shop.url}/wp-login.php`);
  await page.fill('#user_login', 'admin');
  await page.fill('#user_pass', 'admin-password');
  await Promise.all([page.waitForURL(/\/wp-admin\//), page.click('#wp-submit')]);
}

async function uploadPlugin(page, shop, zip) {
  await page.goto(`${shop.url}/wp-admin/plugin-install.php?tab=upload`);
  await page.setInputFiles('#pluginzip', zip);
  await Promise.all([page.waitForURL(/update\.php\?action=upload-plugin/), page.click('#install-plugin-submit')]);
  await page.getByText('Plugin installed successfully.').waitFor();
  await shot(page, `${prefix}-plugin-uploaded`);
  await Promise.all([page.waitForURL(/plugins\.php/), page.locator('a.button-primary', { hasText: 'Activate Plugin' }).click()]);
  await page.locator('#message, .notice-success').filter({ hasText: 'Plugin activated.' }).first().waitFor();
  assert.equal(await page.locator('tr[data-slug="printbridge"].active').count(), 1, 'PrintBridge is active');
}

async function connect(page, shop, bridge) {
  await page.goto(`${shop.url}/wp-admin/admin.php?page=wc-settings&tab=printbridge`);
  await page.fill('#printbridge_connection_key', bridge.key);
  await page.fill('#printbridge_k2p_wrapper_url', K2P_JS);
  await page.fill('#printbridge_k2p_editor_height', '480px');
  await submit(page, () => page.click('.woocommerce-save-button'));
  await page.getByText('Connection key accepted.').waitFor();
  await page.getByText('Order webhooks to the bridge are set up.').waitFor();
  const html = await page.content();
  assert.ok(!html.includes(bridge.token), 'the store token is never printed into the settings page');
  await page.click('#printbridge-test-connection');
  const result = page.locator('#printbridge-test-result');
  await until('the Test connection answer', async () => /Connected to PrintBridge/.test(await result.textContent()), 20000);
  const text = await result.textContent();
  assert.match(text, /as store "shop"/);
  assert.match(text, /Spiff/);
  assert.match(text, /Key2print/);
  await shot(page, `${prefix}-connected`);
  const hooks = wp(shop, `return array_map( function ( $id ) { $w = wc_get_webhook( $id ); return array( $w->get_topic(), $w->get_status(), $w->get_delivery_url(), $w->get_api_version() ); }, array_values( PrintBridge_Webhooks::ids() ) );`);
  assert.deepEqual(hooks.map((h) => h[0]).sort(), ['order.created', 'order.updated']);
  for (const h of hooks) {
    assert.equal(h[1], 'active');
    assert.equal(h[2], `${bridge.url}/v1/webhooks/woocommerce/shop`);
    assert.equal(h[3], 'wp_api_v3');
  }
}

/** Creates a new simple product in the product editor; `printbridge` fills the PrintBridge tab. */
async function createProduct(page, shop, { name, price, sku, printbridge }) {
  await page.goto(`${shop.url}/wp-admin/post-new.php?post_type=product`);
  await page.fill('#title', name);
  await page.fill('#_regular_price', price);
  if (sku) {
    await page.click('.product_data_tabs li.inventory_options a');
    await page.fill('#_sku', sku);
  }
  if (printbridge) {
    const tab = page.locator('.product_data_tabs li.printbridge_options');
    assert.ok(await tab.isVisible(), 'the PrintBridge tab is visible on a new product');
    await tab.locator('a').click();
    await page.selectOption('#printbridge_provider', printbridge.provider);
    for (const [field, value] of Object.entries(printbridge.fields)) {
      const input = page.locator(`#${field}`);
      assert.ok(await input.isVisible(), `${field} shows once ${printbridge.provider} is chosen`);
      await input.fill(value);
    }
    await shot(page, `${prefix}-product-${printbridge.provider}`);
  }
  // WordPress ignores Publish while an autosave runs (its buttons carry .disabled then), and
  // post.js rewrites the address on Publish (wp-post-new-reload): press it when enabled, until
  // the saved product's screen loads.
  const saved = /post\.php\?post=\d+&action=edit/;
  await until('the product saved', async () => {
    if (saved.test(page.url())) return true;
    await page.locator('#publish:not(.disabled)').waitFor();
    await page.click('#publish');
    await page.waitForURL(saved, { waitUntil: 'load', timeout: 10000 }).catch(() => {});
    return saved.test(page.url());
  }, 60000);
  await page.locator('#message').filter({ hasText: 'Product published.' }).waitFor();
  const id = Number(new URL(page.url()).searchParams.get('post'));
  const meta = wp(shop, `$p = wc_get_product( ${id} ); return array( 'provider' => $p->get_meta( '_printbridge_provider' ), 'spiff' => $p->get_meta( '_printbridge_spiff_integration_product_id' ), 'tpl' => $p->get_meta( '_printbridge_key2print_template_id' ), 'sku' => $p->get_sku(), 'url' => get_permalink( ${id} ) );`);
  if (printbridge) assert.equal(meta.provider, printbridge.provider);
  return { id, url: meta.url, meta };
}

// --- the customer -----------------------------------------------------------------------------

async function storeCart(page) {
  return page.evaluate(async () => (await fetch('/wp-json/wc/store/v1/cart', { credentials: 'same-origin' })).json());
}

async function personaliseSpiff(page, product, quantity) {
  await page.goto(product.url);
  const personalise = page.locator('#printbridge-personalise');
  await personalise.waitFor();
  await page.fill('form.cart input.qty', String(quantity));
  await personalise.click();
  await page.locator('#spiff-standin-finish').waitFor();
  await shot(page, `${prefix}-spiff-editor`);
  const log = await page.evaluate(() => window.__spiffLog);
  // The region the bridge orders in, then the product, then the editor with the bridge's
  // application key (learned from the bridge's status when the connection was saved).
  assert.deepEqual(log.slice(0, 2), [
    { call: 'setRegion', region: 'us' },
    { call: 'IntegrationProduct', id: SPIFF_PRODUCT },
  ]);
  const { currency, ...editor } = log[2];
  assert.deepEqual(editor, { call: 'HostedExperience', product: SPIFF_PRODUCT, applicationKey: 'sandbox-spiff-application-key' });
  assert.match(currency, /^[A-Z]{3}$/);
  await submit(page, () => page.click('#spiff-standin-finish'));
}

async function personaliseKey2print(page, product, sandbox) {
  const before = await sandbox.stats();
  await page.goto(product.url);
  await page.locator('#printbridge-personalise').click();
  await page.locator('#k2p-standin-frame').waitFor();
  const after = await sandbox.stats();
  assert.equal(after.key2print_sessions.length, before.key2print_sessions.length + 1, 'one Key2print session started through the bridge');
  const log = await page.evaluate(() => window.__k2pLog);
  assert.equal(log.length, 1);
  assert.equal(log[0].containerId, 'printbridge-k2p-editor');
  assert.match(log[0].sessionToken, /^[0-9a-f]{32}$/);
  await shot(page, `${prefix}-key2print-editor`);
  await submit(page, () => page.click('#k2p-standin-finish'));
}

/** The PrintBridge tab lists the merchant's templates from the bridge; choosing one fills the id. */
async function pickTemplate(page, shop, product, sandbox) {
  const r = await fetch(`${sandbox.urls.key2print}/_sandbox/key2print/templates`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ format_name: 'Card 85x55', template_name: 'Classic card' }),
  });
  const { template_id: templateId, template_format_id: formatId } = await r.json();
  assert.match(templateId, /^[0-9a-f-]{36}$/);
  await page.goto(`${shop.url}/wp-admin/post.php?post=${product.id}&action=edit`);
  await page.locator('.product_data_tabs li.printbridge_options a').click();
  assert.equal(await page.inputValue('#printbridge_k2p_template_id'), 'tpl-7', 'the typed id is shown');
  const picker = page.locator('#printbridge_k2p_template_pick');
  // The bridge keeps the lists for a minute and the product was made moments ago: "Reload"
  // reads them from Key2print again, with the new template.
  await until('the lists loaded', async () => !(await picker.isDisabled()), 20000);
  await page.click('#printbridge-k2p-reload');
  await until('the template list', async () => (await picker.locator(`option[value="${templateId}"]`).count()) === 1, 20000);
  assert.match(await picker.locator(`option[value="${templateId}"]`).textContent(), /Classic card - Card 85x55/);
  await picker.selectOption(templateId);
  assert.equal(await page.inputValue('#printbridge_k2p_template_id'), templateId);
  await page.locator('#printbridge_k2p_format_pick').selectOption(formatId);
  assert.equal(await page.inputValue('#printbridge_k2p_template_format_id'), formatId);
  await shot(page, `${prefix}-key2print-pickers`);
  await submit(page, () => page.click('#publish'));
  await page.locator('#message').filter({ hasText: 'Product updated.' }).waitFor();
  const meta = wp(shop, `$p = wc_get_product( ${product.id} ); return array( $p->get_meta( '_printbridge_key2print_template_id' ), $p->get_meta( '_printbridge_key2print_template_format_id' ) );`);
  assert.deepEqual(meta, [templateId, formatId]);
  return templateId;
}

/** WooCommerce > Key2print templates: the editor opens in merchant mode through the bridge. */
async function merchantEditor(browser, shop, sandbox) {
  const { context } = await newContext(browser, { routes: providerRoutes });
  const page = await context.newPage();
  try {
    await login(page, shop);
    await page.goto(`${shop.url}/wp-admin/admin.php?page=printbridge-key2print`);
    const before = (await sandbox.stats()).key2print_sessions.length;
    await page.click('#printbridge-open-merchant-editor');
    await page.locator('#k2p-standin-frame').waitFor();
    const sessions = (await sandbox.stats()).key2print_sessions;
    assert.equal(sessions.length, before + 1, 'one session started through the bridge');
    assert.deepEqual(sessions[sessions.length - 1], { mode: 'merchant' });
    const log = await page.evaluate(() => window.__k2pLog);
    assert.equal(log.length, 1);
    assert.equal(log[0].containerId, 'printbridge-k2p-merchant-editor');
    assert.match(log[0].sessionToken, /^[0-9a-f]{32}$/);
    await shot(page, `${prefix}-key2print-merchant-editor`);
    await page.click('#k2p-standin-finish');
    await until('the editor closed', async () => /editor was closed/.test(await page.locator('#printbridge-merchant-status').textContent()), 10000);
  } finally {
    await context.close();
  }
}

/** "Edit design" on the classic cart's Key2print line reopens its project; finishing keeps one line. */
async function reopenFromCart(page, shop, product, sandbox) {
  await page.goto(`${shop.url}/classic-cart/`);
  const before = (await sandbox.stats()).key2print_sessions.length;
  const row = page.locator('form.woocommerce-cart-form tr.cart_item', { hasText: 'Business cards' });
  await row.locator('.printbridge-edit-design a').click();
  await page.locator('#k2p-standin-frame').waitFor();
  const sessions = (await sandbox.stats()).key2print_sessions;
  assert.equal(sessions.length, before + 1);
  const session = sessions[sessions.length - 1];
  assert.equal(session.mode, 'user');
  assert.equal(session.projectId, K2P_PROJECT, 'the editor reopens the line\'s project');
  assert.equal(session.userId, sessions[before - 1]?.userId, 'for the same Key2print user');
  await shot(page, `${prefix}-key2print-reopen`);
  await page.click('#k2p-standin-finish');
  await page.waitForURL(/\/cart\/?$/, { waitUntil: 'load' });
  const lines = (await storeCart(page)).items.filter((i) => i.id === product.id);
  assert.equal(lines.length, 1, 'the design went back into its line, not a second one');
  assert.equal(lines[0].extensions.printbridge.design_id, K2P_PROJECT);
  assert.match(lines[0].extensions.printbridge.edit_url, /printbridge_edit=/);
}

function cartLine(cart, productId) {
  return cart.items.find((i) => i.id === productId);
}

async function classicCart(page, shop, lines) {
  await page.goto(`${shop.url}/classic-cart/`);
  const form = page.locator('form.woocommerce-cart-form');
  await form.waitFor();
  for (const [name, text] of lines) {
    const row = form.locator('tr.cart_item', { hasText: name });
    await row.waitFor();
    if (text) assert.match(await row.textContent(), text);
  }
  await shot(page, `${prefix}-classic-cart`);
}

async function blockCart(page, shop, lines) {
  await page.goto(`${shop.url}/cart/`);
  for (const [name, text] of lines) {
    const row = page.locator('.wc-block-cart-items__row', { hasText: name });
    await row.waitFor();
    if (text) await row.getByText(text.source.includes('Spiff') ? 'Spiff · e3ac7f3a' : 'Key2print · proj_42-').waitFor();
  }
  await shot(page, `${prefix}-block-cart`);
}

async function blockCheckout(page, shop) {
  await page.goto(`${shop.url}/checkout/`);
  await page.locator('#email').waitFor();
  await page.fill('#email', 'customer@example.org');
  // A returning customer's address is shown filled in, its fields hidden behind Edit.
  const fill = async (sel, value) => {
    const f = page.locator(sel);
    if (await f.count() && await f.isVisible()) await f.fill(value);
  };
  await fill('#shipping-first_name', 'Ada');
  await fill('#shipping-last_name', 'Lovelace');
  await fill('#shipping-address_1', 'Rue Neuve 12');
  await fill('#shipping-city', 'Brussels');
  await fill('#shipping-postcode', '1000');
  await fill('#shipping-phone', '+3220000000');
  await shot(page, `${prefix}-block-checkout`);
  // The checkout block recalculates after each field (Store API batch requests) and ignores
  // Place Order meanwhile: press it once the page is idle, until the order is received.
  const received = /order-received\/\d+/;
  let inFlight = 0;
  const isStoreApi = (r) => r.url().includes('/wc/store/');
  page.on('request', (r) => { if (isStoreApi(r)) inFlight += 1; });
  const done = (r) => { if (isStoreApi(r)) inFlight -= 1; };
  page.on('requestfinished', done);
  page.on('requestfailed', done);
  const last = page.locator('#shipping-phone, #shipping-postcode').first();
  if (await last.isVisible()) await last.press('Tab'); // leaves the last field: the block sends the address
  await until('the order received page', async () => {
    if (received.test(page.url())) return true;
    await until('the checkout\'s Store API requests finished', () => inFlight <= 0, 20000, 50);
    if (received.test(page.url())) return true;
    await page.locator('.wc-block-components-checkout-place-order-button:not([disabled]):not([aria-disabled="true"])').click();
    await page.waitForURL(received, { timeout: 8000 }).catch(() => {});
    return received.test(page.url());
  }, 90000);
  const orderId = Number(page.url().match(/order-received\/(\d+)/)[1]);
  await page.getByText('Thank you').first().waitFor();
  await shot(page, `${prefix}-order-received`);
  return orderId;
}

// --- the bridge and the order screen ----------------------------------------------------------

async function providerOrders(shop, sandbox, want) {
  return until('one provider order per provider at the sandboxes', async () => {
    runQueue(shop);
    const s = await sandbox.stats();
    const got = {
      spiff: Object.values(s.spiff_orders).reduce((a, b) => a + b, 0),
      apliiq: Object.values(s.apliiq_orders).reduce((a, b) => a + b, 0),
      key2print: Object.values(s.key2print_downloads).reduce((a, b) => a + b, 0),
    };
    return Object.entries(want).every(([k, v]) => got[k] >= v) ? s : false;
  }, 60000, 250);
}

async function jobsSettled(bridge, orderId) {
  return until(`the bridge's jobs of order ${orderId} done`, async () => {
    const o = await bridge.admin(`/v1/admin/orders/shop/${orderId}`);
    const jobs = o.jobs || [];
    return jobs.length && jobs.every((j) => j.state === 'done') ? o : false;
  }, 60000, 250);
}

function orderUrl(shop, orderId) {
  const hpos = wp(shop, `return \\Automattic\\WooCommerce\\Utilities\\OrderUtil::custom_orders_table_usage_is_enabled();`);
  return hpos ? `${shop.url}/wp-admin/admin.php?page=wc-orders&action=edit&id=${orderId}` : `${shop.url}/wp-admin/post.php?post=${orderId}&action=edit`;
}

// Spiff and Key2print go at once; Apliiq (under approval in this bridge) waits until the owner
// presses "Approve for print" in the order box.
async function approveInOrderBox(page, shop, sandbox, orderId) {
  await providerOrders(shop, sandbox, { spiff: 1, key2print: 1 });
  assert.deepEqual((await sandbox.stats()).apliiq_orders, {}, 'nothing reaches Apliiq before the approval');
  await page.goto(orderUrl(shop, orderId));
  const waiting = page.locator('#printbridge-order .printbridge-waiting');
  await waiting.waitFor();
  assert.match(await waiting.textContent(), /Waiting for your approval/);
  await waiting.locator('button.printbridge-order-action[data-action="approve"]').click();
  const said = waiting.locator('.printbridge-action-result');
  await until('the approval answered', async () => /1 print job approved for print/.test(await said.textContent()), 30000, 200);
  await shot(page, `${prefix}-approved`);
}

async function orderScreen(page, shop, orderId, providers) {
  const url = orderUrl(shop, orderId);
  // The bridge writes its notes through the REST API after each provider call: reload until
  // they are all there.
  await until('the bridge\'s order notes on the order screen', async () => {
    runQueue(shop);
    await page.goto(url);
    const notes = await page.locator('ul.order_notes').textContent();
    return providers.every((p) => new RegExp(p, 'i').test(notes));
  }, 60000, 500);
  const box = page.locator('#printbridge-order');
  await box.waitFor();
  const text = await box.textContent();
  for (const p of providers) assert.match(text, new RegExp(p, 'i'), `the PrintBridge box names ${p}`);
  await box.scrollIntoViewIfNeeded();
  await shot(page, `${prefix}-order-screen`);
  return url;
}

// --- the Store API ----------------------------------------------------------------------------

async function storeApi(shop, spiffId) {
  const base = `${shop.url}/wp-json/wc/store/v1`;
  const first = await fetch(`${base}/cart`);
  assert.equal(first.status, 200);
  const headers = { 'content-type': 'application/json', Nonce: first.headers.get('nonce'), 'Cart-Token': first.headers.get('cart-token') };
  const refused = await fetch(`${base}/cart/add-item`, { method: 'POST', headers, body: JSON.stringify({ id: spiffId, quantity: 1 }) });
  const refusedBody = await refused.json();
  assert.equal(refused.status, 400, JSON.stringify(refusedBody));
  assert.match(refusedBody.message, /personalis/i);
  const added = await fetch(`${base}/cart/add-item`, {
    method: 'POST', headers, body: JSON.stringify({ id: spiffId, quantity: 1, extensions: { printbridge: { design_id: SPIFF_TRANSACTION } } }),
  });
  const cart = await added.json();
  assert.equal(added.status, 201, JSON.stringify(cart));
  const line = cart.items.find((i) => i.id === spiffId);
  assert.ok(line, 'the line is in the cart');
  assert.equal(line.extensions?.printbridge?.design_id, SPIFF_TRANSACTION, `extensions.printbridge on the cart item: ${JSON.stringify(line.extensions)}`);
  assert.equal(line.extensions.printbridge.provider, 'spiff');
  return cart;
}

// --- the cart charges the editor's price --------------------------------------------------------

/** The shop enters prices with tax and charges its standard rate, 20 %, for its base country
 * (WooCommerce's own WC_Tax inserts it); the shop and the cart show prices with tax. The bridge
 * has no rate of its own: it reads these settings and the rate over the shop's REST API. */
function taxedShop(shop) {
  return wp(shop, `
    update_option( 'woocommerce_calc_taxes', 'yes' );
    update_option( 'woocommerce_prices_include_tax', 'yes' );
    update_option( 'woocommerce_tax_round_at_subtotal', 'no' );
    update_option( 'woocommerce_tax_display_shop', 'incl' );
    update_option( 'woocommerce_tax_display_cart', 'incl' );
    update_option( 'woocommerce_price_display_suffix', '' );
    // A new customer's address is the shop's base address (taxes follow the shipping address).
    update_option( 'woocommerce_default_customer_address', 'base' );
    $base = WC()->countries->get_base_country();
    $id = WC_Tax::_insert_tax_rate( array(
      'tax_rate_country' => $base, 'tax_rate_state' => '', 'tax_rate' => '20.0000', 'tax_rate_name' => 'VAT',
      'tax_rate_priority' => 1, 'tax_rate_compound' => 0, 'tax_rate_shipping' => 1, 'tax_rate_order' => 0, 'tax_rate_class' => '',
    ) );
    return array( 'country' => $base, 'rate_id' => $id, 'rate_name' => 'VAT' );`);
}

// Production time: Standard, or Express for 10.10 more.
const PRICE_TREE = {
  id: 'speed', name: 'Production time', values: [
    { id: 'standard', name: 'Standard' },
    { id: 'express', name: 'Express', surcharge: '10.10' },
  ],
};

/** A variable product the Key2print editor prices: Finish None (29.00) or Gloss (on sale at
 * 29.90 instead of 34.00), prices with tax, with the price tree above. */
function createPricedProduct(shop) {
  return wp(shop, `
    $finish = new WC_Product_Attribute();
    $finish->set_name( 'Finish' );
    $finish->set_options( array( 'None', 'Gloss' ) );
    $finish->set_visible( true );
    $finish->set_variation( true );
    $p = new WC_Product_Variable();
    $p->set_name( 'Priced cards' );
    $p->set_status( 'publish' );
    $p->set_attributes( array( $finish ) );
    $p->update_meta_data( '_printbridge_provider', 'key2print' );
    $p->update_meta_data( '_printbridge_key2print_gateway', 'yes' );
    $p->update_meta_data( '_printbridge_key2print_price_tree', ${JSON.stringify(JSON.stringify(PRICE_TREE))} );
    $id = $p->save();
    foreach ( array( 'None' => array( '29.00', '' ), 'Gloss' => array( '34.00', '29.90' ) ) as $value => $prices ) {
      $v = new WC_Product_Variation();
      $v->set_parent_id( $id );
      $v->set_attributes( array( 'finish' => $value ) );
      $v->set_regular_price( $prices[0] );
      $v->set_sale_price( $prices[1] );
      $v->set_status( 'publish' );
      $v->save();
    }
    WC_Product_Variable::sync( $id );
    return array( 'id' => $id, 'url' => get_permalink( $id ) );`);
}

/** Answers the editor stand-in's price question as Key2print does: a signed Get Price call to
 * the bridge's product gateway for `productId`; each answer is kept in `answers`. */
function gatewayPrice(bridge, productId, answers) {
  return async (route) => {
    const params = {
      productIdentifier: String(productId),
      key: 'sandbox-key2print-key',
      tstamp: String(Math.floor(Date.now() / 1000)),
      setup: new URL(route.request().url()).searchParams.get('setup'),
    };
    const signed = Object.keys(params).sort().map((k) => `${k}=${params[k]}`).join('&');
    const key = crypto.createHash('sha256').update('sandbox-key2print-secret').digest('hex');
    const sign = crypto.createHmac('sha256', key).update(signed).digest('hex');
    const answer = await fetch(`${bridge.url}/v1/key2print/shop/gateway/price?${new URLSearchParams({ ...params, sign })}`);
    const body = await answer.text();
    answers.push(JSON.parse(body));
    await route.fulfill({ status: 200, contentType: 'application/json', headers: { 'access-control-allow-origin': '*' }, body });
  };
}

/** The customer chooses Gloss + Express in the editor and adds the design: the editor's price. */
async function personalisePriced(page, product) {
  await page.goto(product.url);
  await page.locator('#printbridge-personalise').click();
  await page.locator('#k2p-standin-frame').waitFor();
  await page.click('#k2p-standin-express');
  const shown = page.locator('#k2p-standin-price');
  await until('the editor\'s price', async () => /\d/.test(await shown.textContent()), 20000);
  // The product option follows the editor; the price-tree option has no select.
  assert.equal(await page.locator('select[name="attribute_finish"]').inputValue(), 'Gloss');
  await until('the variation chosen', async () => Number(await page.locator('input[name="variation_id"]').inputValue()) > 0, 10000);
  await shot(page, `${prefix}-key2print-priced-editor`);
  const editorPrice = (await shown.textContent()).trim();
  await submit(page, () => page.click('#k2p-standin-finish'));
  return editorPrice;
}

/** The leaf of a Get Price answer that `setup` chooses, as the editor follows it. */
function chosenLeaf(data, setup) {
  let leaf = data;
  for (let option = data.priceOptionTree; option; option = leaf.subOption) {
    leaf = option.values.find((v) => String(v.id) === String(setup[option.id]));
    assert.ok(leaf, `the setup's value of ${option.id} is in the tree: ${JSON.stringify(option)}`);
  }
  return leaf;
}

const cents = (text) => Math.round(Number(text) * 100);
const amount = (c) => (c / 100).toFixed(2);
const shown = (text) => new RegExp(text.replace('.', '\\.'));

/** The editor's price (the gateway's gross: the shop enters prices with tax) is the cart line in
 * the classic cart (also after a reload) and in the block cart, the order total, the order's
 * line total and the total the bridge recorded; the order's tax is the 20 % share of it. */
async function editorPriceInTheCart(page, shop, bridge, product, answers) {
  const editorPrice = await personalisePriced(page, product);
  assert.equal(editorPrice, '40.00', 'Gloss on sale (29.90) + Express (10.10), both entered with tax');
  // The 20 % share of a price with tax is a sixth of it: 4000 / 6 cents is no tie, so it is the
  // same whichever way WooCommerce rounds a tie.
  const tax = amount(Math.round(cents(editorPrice) / 6));
  assert.equal(tax, '6.67');
  // The gateway taxed the price at the shop's own rate, read over the REST API.
  const leaf = chosenLeaf(answers.at(-1).data, { finish: 'Gloss', speed: 'express' });
  assert.deepEqual(
    { gross: leaf.grossPrice.toFixed(2), net: leaf.netPrice.toFixed(2), tax: leaf.tax.toFixed(2), rate: leaf.taxRate },
    { gross: editorPrice, net: amount(cents(editorPrice) - cents(tax)), tax, rate: shop.tax.rate_name },
  );
  // A variation's line carries the variation's id: found by its name.
  const line = (await storeCart(page)).items.find((i) => i.name.includes('Priced cards'));
  assert.ok(line, 'the priced line is in the cart');
  const minor = (v) => amount(Number(v) * 10 ** (2 - line.prices.currency_minor_unit));
  assert.equal(minor(line.prices.price), editorPrice, 'the Store API shows the line with tax');
  assert.equal(minor(Number(line.totals.line_total) + Number(line.totals.line_total_tax)), editorPrice);
  assert.equal(minor(line.totals.line_total_tax), tax);
  assert.deepEqual(line.extensions.printbridge.price_path, [{ option: 'Production time', value: 'Express' }]);
  await page.goto(`${shop.url}/classic-cart/`);
  const row = page.locator('form.woocommerce-cart-form tr.cart_item', { hasText: 'Priced cards' });
  assert.match(await row.locator('.product-subtotal').textContent(), shown(editorPrice));
  assert.match(await row.textContent(), /Production time:\s*Express/);
  const cartTotal = await page.locator('.cart_totals tr.order-total').textContent();
  assert.match(cartTotal, shown(editorPrice));
  assert.match(cartTotal, shown(tax), 'the cart total names the tax it includes');
  await shot(page, `${prefix}-classic-cart-priced`);
  await page.reload(); // the price is kept in the session, not recomputed in the page
  assert.match(await row.locator('.product-subtotal').textContent(), shown(editorPrice));
  await page.goto(`${shop.url}/cart/`);
  const blockRow = page.locator('.wc-block-cart-items__row', { hasText: 'Priced cards' });
  await blockRow.getByText('Express').waitFor();
  assert.match(await blockRow.textContent(), shown(editorPrice));
  await shot(page, `${prefix}-block-cart-priced`);
  const orderId = await blockCheckout(page, shop);
  const order = wp(shop, `$o = wc_get_order( ${orderId} ); $i = array_values( $o->get_items() )[0];
    return array( 'total' => wc_format_decimal( $o->get_total(), 2 ), 'tax' => wc_format_decimal( $o->get_total_tax(), 2 ),
      'line' => wc_format_decimal( (float) $i->get_total() + (float) $i->get_total_tax(), 2 ), 'line_tax' => wc_format_decimal( $i->get_total_tax(), 2 ),
      'count' => count( $o->get_items() ), 'path' => $i->get_meta( 'Production time' ), 'with_tax' => $o->get_prices_include_tax(),
      'countries' => array( $o->get_billing_country(), $o->get_shipping_country() ) );`);
  // The customer's billing and shipping country is the shop's base country (the checkout's
  // default): WooCommerce would take the base rate out of a price with tax and add the
  // customer's country's rate otherwise, and the figures would not be these.
  assert.deepEqual(order, {
    total: editorPrice, tax, line: editorPrice, line_tax: tax, count: 1, path: 'Express', with_tax: true,
    countries: [shop.tax.country, shop.tax.country],
  });
  assert.match(await page.locator('body').textContent(), shown(editorPrice), 'the order received page shows the amount');
  // The amount the bridge received with the order's webhook.
  const ledger = await until('the order at the bridge', async () => {
    runQueue(shop);
    return bridge.admin(`/v1/admin/orders/shop/${orderId}`).then((o) => (o.order_id === orderId ? o : false));
  }, 60000, 250);
  assert.equal(Number(ledger.total).toFixed(2), editorPrice);
}

/** "Edit design" on the priced line: another price-tree choice in the editor is the line's new
 * price and path (the same line); the block cart shows the link too. */
async function reopenPricedLine(page, shop, product) {
  await personalisePriced(page, product);
  await page.goto(`${shop.url}/cart/`);
  const blockRow = page.locator('.wc-block-cart-items__row', { hasText: 'Priced cards' });
  const blockLink = blockRow.locator('a.printbridge-edit-design');
  await blockLink.waitFor();
  assert.equal((await blockLink.textContent()).trim(), 'Edit design');
  const before = (await storeCart(page)).items.filter((i) => i.name.includes('Priced cards'));
  assert.equal(before.length, 1);
  assert.equal(await blockLink.getAttribute('href'), before[0].extensions.printbridge.edit_url);
  await shot(page, `${prefix}-block-cart-edit-link`);
  await blockLink.click();
  await page.locator('#k2p-standin-frame').waitFor();
  await page.click('#k2p-standin-standard');
  const shown = page.locator('#k2p-standin-price');
  await until('the editor\'s new price', async () => /\d/.test(await shown.textContent()), 20000);
  const editorPrice = (await shown.textContent()).trim();
  assert.equal(editorPrice, '29.90', 'Gloss on sale (29.90), Standard production');
  await page.click('#k2p-standin-finish');
  await page.waitForURL(/\/cart\/?$/, { waitUntil: 'load' });
  const lines = (await storeCart(page)).items.filter((i) => i.name.includes('Priced cards'));
  assert.equal(lines.length, 1, 'the same line, not a second one');
  assert.equal(lines[0].key, before[0].key);
  assert.equal((Number(lines[0].prices.price) / 10 ** lines[0].prices.currency_minor_unit).toFixed(2), editorPrice);
  assert.deepEqual(lines[0].extensions.printbridge.price_path, [{ option: 'Production time', value: 'Standard' }]);
  await blockRow.getByText('Standard').waitFor();
  assert.match(await blockRow.textContent(), /29\.90/);
  await shot(page, `${prefix}-block-cart-reopened-priced`);
  await page.evaluate(async (key) => {
    const nonce = (await fetch('/wp-json/wc/store/v1/cart', { credentials: 'same-origin' })).headers.get('Nonce');
    await fetch('/wp-json/wc/store/v1/cart/remove-item', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json', Nonce: nonce }, body: JSON.stringify({ key }) });
  }, lines[0].key);
  assert.equal((await storeCart(page)).items.filter((i) => i.name.includes('Priced cards')).length, 0);
}

// --- the editor failing to load ---------------------------------------------------------------

/** The product page of `product` with the provider script answered by `route`; returns what happened. */
async function failingEditor(browser, shop, product, routes, name) {
  const { context } = await newContext(browser, { routes });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const ajax = [];
  page.on('request', (r) => {
    if (r.url().includes('admin-ajax.php')) ajax.push(r.postData() || '');
  });
  try {
    await page.goto(product.url, { waitUntil: 'domcontentloaded' });
    const status = page.locator('#printbridge-status');
    await page.locator('#printbridge-personalise').click();
    await until(`a message for the customer (${name})`, async () => /not available/.test(await status.textContent()), 15000);
    const message = await status.textContent();
    assert.ok(await status.evaluate((el) => el.classList.contains('is-error')));
    await shot(page, `${prefix}-editor-${name}`);
    // The add-to-cart button does not put the product in the cart without a design: it tries
    // the editor again and ends with the message again, on the same page.
    await status.evaluate((el) => { el.textContent = ''; });
    await page.locator('button.single_add_to_cart_button').click();
    await until('the message again after Add to cart', async () => /not available/.test(await status.textContent()), 15000);
    const cart = await storeCart(page);
    return { message, errors, ajax, cart };
  } finally {
    await context.close();
  }
}

async function editorFailures(browser, owner, shop, spiff, k2p, sandbox) {
  // The deadline comes from the printbridge_editor_timeout_ms filter (a must-use plugin of the test).
  const abort = (route) => route.abort('connectionrefused');
  const hang = () => {}; // never answered
  const throwing = (route) => route.fulfill({ status: 200, contentType: 'application/javascript', body: 'throw new Error("Spiff SDK exploded");' });
  const cases = [
    ['spiff-unreachable', spiff, { [SPIFF_JS]: abort }],
    ['spiff-never-loads', spiff, { [SPIFF_JS]: hang }],
    ['spiff-throws', spiff, { [SPIFF_JS]: throwing }],
    ['key2print-unreachable', k2p, { [K2P_JS]: abort }],
  ];
  const sessions0 = (await sandbox.stats()).key2print_sessions.length;
  const users0 = (await sandbox.stats()).key2print_users;
  // Every case runs; the failures are reported together.
  const problems = [];
  const check = async (name, product, routes) => {
    try {
      const r = await failingEditor(browser, shop, product, routes, name);
      assert.doesNotMatch(r.message, /TypeError|not a constructor|undefined|Opening the editor/, name);
      assert.equal(r.cart.items_count, 0, `${name}: nothing was added to the cart`);
      assert.deepEqual(r.ajax.filter((d) => d.includes('printbridge_k2p_session')), [], `${name}: no Key2print session was asked for`);
      const unexpected = r.errors.filter((e) => !e.includes('Spiff SDK exploded'));
      assert.deepEqual(unexpected, [], `${name}: no JavaScript error from the plugin`);
    } catch (e) {
      problems.push(`${name}: ${e.message.split('\n')[0]}`);
    }
  };
  for (const [name, product, routes] of cases) await check(name, product, routes);
  // The wrapper URL unset: the same message, and no Key2print user or session.
  wp(shop, `PrintBridge_Settings::update( array( 'k2p_wrapper_url' => '' ) ); return true;`);
  await check('key2print-unset', k2p, {});
  // The owner is told too.
  await owner.goto(`${shop.url}/wp-admin/edit.php?post_type=product`);
  const notice = owner.locator('.notice', { hasText: /Key2print editor: the .* is not set/ });
  if (await notice.count()) {
    await shot(owner, `${prefix}-owner-notice-key2print-unset`);
  } else {
    problems.push('no admin notice tells the owner the Key2print wrapper URL is not set');
  }
  wp(shop, `PrintBridge_Settings::update( array( 'k2p_wrapper_url' => ${JSON.stringify(K2P_JS)} ) ); return true;`);
  const s = await sandbox.stats();
  if (s.key2print_sessions.length !== sessions0) problems.push(`${s.key2print_sessions.length - sessions0} Key2print session(s) created for an editor that could not load`);
  if (s.key2print_users !== users0) problems.push(`${s.key2print_users - users0} Key2print user(s) created for an editor that could not load`);
  assert.deepEqual(problems, [], 'editor load failures');
}

/** The Personalise button looks like the theme's buttons and keeps its own width. */
async function buttonStyle(page, product) {
  await page.goto(product.url);
  const personalise = page.locator('#printbridge-personalise');
  const addToCart = page.locator('button.single_add_to_cart_button');
  const cls = await personalise.getAttribute('class');
  assert.match(cls, /\bbutton\b/);
  assert.match(cls, /\bwp-element-button\b/, 'the theme\'s element class, as WooCommerce\'s own buttons carry');
  const style = (loc) => loc.evaluate((el) => {
    const s = getComputedStyle(el);
    return { bg: s.backgroundColor, radius: s.borderRadius, font: s.fontFamily, width: el.getBoundingClientRect().width, form: el.form.getBoundingClientRect().width };
  });
  const p = await style(personalise);
  const a = await style(addToCart);
  assert.equal(p.bg, a.bg, 'same background as the add-to-cart button');
  assert.equal(p.radius, a.radius);
  assert.equal(p.font, a.font);
  assert.ok(p.width < p.form * 0.6, `the Personalise button keeps its own width (${p.width} of ${p.form})`);
}

// --- the disabled webhooks --------------------------------------------------------------------

async function disabledWebhooks(page, shop, bridge, orderUrl) {
  // WooCommerce disables a webhook on its next failed delivery once failure_count is above 5:
  // the bridge is stopped and the order updated from the order screen.
  await stop(bridge.proc);
  wp(shop, `foreach ( PrintBridge_Webhooks::ids() as $id ) { $w = wc_get_webhook( $id ); $w->set_failure_count( 6 ); $w->save(); } return true;`);
  await page.goto(orderUrl);
  await page.selectOption('#order_status', 'wc-completed');
  await submit(page, () => page.locator('button.save_order').click());
  const notice = page.locator('.notice-error', { hasText: 'PrintBridge: WooCommerce disabled the webhooks' });
  await until('the disabled-webhooks notice', async () => {
    runQueue(shop);
    await page.goto(`${shop.url}/wp-admin/admin.php?page=wc-settings&tab=printbridge`);
    return notice.isVisible();
  }, 20000, 250);
  const states = wp(shop, `return array_map( function ( $id ) { return wc_get_webhook( $id )->get_status(); }, array_values( PrintBridge_Webhooks::ids() ) );`);
  assert.ok(states.includes('disabled'), `WooCommerce disabled a webhook: ${states}`);
  await shot(page, `${prefix}-webhooks-disabled`);
  await submit(page, () => notice.getByText('Re-enable the webhooks').click());
  await until('the notice gone', async () => (await page.locator('.notice-error', { hasText: 'PrintBridge: WooCommerce disabled the webhooks' }).count()) === 0, 10000);
  await page.getByText(/PrintBridge: \d+ webhooks? to the bridge (is|are) active again\./).waitFor();
  await shot(page, `${prefix}-webhooks-reenabled`);
  const after = wp(shop, `return array_map( function ( $id ) { $w = wc_get_webhook( $id ); return array( $w->get_status(), $w->get_failure_count() ); }, array_values( PrintBridge_Webhooks::ids() ) );`);
  assert.deepEqual(after, [['active', 0], ['active', 0]]);
}

// --- the bridge's API documentation --------------------------------------------------------------

// An integrator opens the bridge's interactive API docs: the operations, and the order events
// the bridge posts listed under Webhooks (Swagger UI shows those only for an OpenAPI 3.1 document).
async function apiDocs(browser, bridge) {
  const { context, foreign } = await newContext(browser);
  const page = await context.newPage();
  await page.goto(`${bridge.url}/docs`);
  await page.locator('.opblock-summary-path', { hasText: '/v1/webhooks/woocommerce/{store}' }).first().waitFor();
  const webhooks = page.locator('.webhooks-container');
  await webhooks.waitFor();
  const listed = await webhooks.textContent();
  for (const type of ['order.placed', 'order.shipped', 'order.needs_attention', 'order.dead_lettered']) {
    assert.ok(listed.includes(type), `the docs list the ${type} event under Webhooks: ${listed}`);
  }
  await webhooks.scrollIntoViewIfNeeded();
  await shot(page, `${prefix}-api-docs`);
  assert.deepEqual(foreign, [], 'the API docs load nothing from other hosts');
  await context.close();
}

// --- the run ----------------------------------------------------------------------------------

async function main() {
  const work = tmpDir('pb-shop-');
  const db = `pb_browser_${prefix}_${process.pid}`;
  const zip = execFileSync('bash', [path.join(pluginRoot, 'build-zip.sh')]).toString().trim().split('\n').pop();
  const shop = await step('install the shop', () => installShop({
    wordpress: args.wordpress, woocommerce: args.woocommerce, dir: path.join(work, 'shop'), db, hpos: args.smoke ? 'off' : 'on',
  }));
  // Test-only settings: a short editor deadline, and a page holding the classic cart shortcode.
  fs.mkdirSync(path.join(shop.dir, 'wp-content', 'mu-plugins'), { recursive: true });
  fs.copyFileSync(path.join(here, 'browser-test-shop.php'), path.join(shop.dir, 'wp-content', 'mu-plugins', 'printbridge-browser-test.php'));
  const rest = wp(shop, `
    wp_insert_post( array( 'post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'Classic cart', 'post_name' => 'classic-cart', 'post_content' => '<!-- wp:shortcode -->[woocommerce_cart]<!-- /wp:shortcode -->' ) );
    global $wpdb;
    $ck = 'ck_' . wc_rand_hash(); $cs = 'cs_' . wc_rand_hash();
    $wpdb->insert( $wpdb->prefix . 'woocommerce_api_keys', array( 'user_id' => 1, 'description' => 'PrintBridge bridge', 'permissions' => 'read_write', 'consumer_key' => wc_api_hash( $ck ), 'consumer_secret' => $cs, 'truncated_key' => substr( $ck, -7 ) ) );
    return array( 'key' => $ck, 'secret' => $cs );`);
  shop.tax = taxedShop(shop);
  const sandbox = await step('start the provider sandboxes', () => startSandbox(bin));
  const bridge = await step('start the bridge', () => startBridge(bin, { dir: path.join(work, 'bridge'), shopUrl: shop.url, sandbox, rest }));
  bridge.token = JSON.parse(Buffer.from(bridge.key.slice(5), 'base64url').toString()).token;

  const browser = await launchBrowser();
  try {
    const { context: ownerContext } = await newContext(browser);
    const owner = await ownerContext.newPage();
    await step('owner logs in', () => login(owner, shop));
    await step('owner uploads and activates the plugin zip', () => uploadPlugin(owner, shop, zip));
    await step('owner pastes the connection key and tests the connection', () => connect(owner, shop, bridge));
    const spiff = await step('owner creates a Spiff product', () => createProduct(owner, shop, {
      name: 'Personalised mug', price: '12.50', printbridge: { provider: 'spiff', fields: { printbridge_spiff_integration_product_id: SPIFF_PRODUCT } },
    }));
    let k2p;
    let apliiq;
    if (!args.smoke) {
      k2p = await step('owner creates a Key2print product', () => createProduct(owner, shop, {
        name: 'Business cards', price: '30', printbridge: { provider: 'key2print', fields: { printbridge_k2p_template_id: 'tpl-7' } },
      }));
      apliiq = await step('owner creates an Apliiq product', () => createProduct(owner, shop, { name: 'Hoodie', price: '40', sku: APLIIQ_SKU }));
      assert.equal(apliiq.meta.sku, APLIIQ_SKU);
      assert.ok((await sandbox.stats()).key2print_flushes.includes(String(k2p.id)), 'saving a Key2print product flushed the editor cache');
      await step('owner opens the Key2print editor in merchant mode', () => merchantEditor(browser, shop, sandbox));
      k2p.template = await step('owner picks a Key2print template from the list', () => pickTemplate(owner, shop, k2p, sandbox));
    }

    const { context: customerContext, foreign } = await newContext(browser, { routes: providerRoutes });
    const customer = await customerContext.newPage();
    const pageErrors = [];
    customer.on('pageerror', (e) => pageErrors.push(String(e)));
    const products = [['Personalised mug', /Personalised design:\s*Spiff · e3ac7f3a/]];
    await step('the Personalise button follows the theme', () => buttonStyle(customer, spiff));
    await step('customer personalises the Spiff product and adds it to the cart', async () => {
      await personaliseSpiff(customer, spiff, 2);
      const line = cartLine(await storeCart(customer), spiff.id);
      assert.ok(line, 'the Spiff line is in the cart');
      assert.equal(line.quantity, 2);
    });
    if (!args.smoke) {
      await step('customer personalises the Key2print product and adds it to the cart', async () => {
        await personaliseKey2print(customer, k2p, sandbox);
        assert.ok(cartLine(await storeCart(customer), k2p.id), 'the Key2print line is in the cart');
        const sessions = (await sandbox.stats()).key2print_sessions;
        assert.equal(sessions[sessions.length - 1].projectTemplateId, k2p.template, 'the session starts from the picked template');
      });
      await step('customer adds the Apliiq product', async () => {
        await customer.goto(apliiq.url);
        assert.equal(await customer.locator('#printbridge-personalise').count(), 0);
        await submit(customer, () => customer.locator('button.single_add_to_cart_button').click());
        assert.ok(cartLine(await storeCart(customer), apliiq.id));
      });
      products.push(['Business cards', /Personalised design:\s*Key2print · proj_42-/], ['Hoodie', null]);
      await step('the Store API carries the design (extensions.printbridge)', async () => {
        const cart = await storeCart(customer);
        const line = cartLine(cart, spiff.id);
        assert.equal(line.extensions?.printbridge?.design_id, SPIFF_TRANSACTION, `extensions on the Spiff line: ${JSON.stringify(line.extensions)}`);
        assert.equal(cartLine(cart, k2p.id).extensions.printbridge.design_id, K2P_PROJECT);
      });
      await step('classic cart shows the personalised lines', () => classicCart(customer, shop, products));
      await step('customer reopens the Key2print design from the classic cart', () => reopenFromCart(customer, shop, k2p, sandbox));
    }
    await step('block cart shows the lines', () => blockCart(customer, shop, products));
    const orderId = await step('customer checks out with the block checkout', () => blockCheckout(customer, shop));
    const order = wp(shop, `$o = wc_get_order( ${orderId} ); return array( 'status' => $o->get_status(), 'items' => array_values( array_map( function ( $i ) { return array( 'product' => $i->get_product_id(), 'spiff' => $i->get_meta( '_printbridge_spiff_transaction_id' ), 'k2p' => $i->get_meta( '_printbridge_key2print_project_id' ) ); }, $o->get_items() ) ) );`);
    assert.equal(order.status, 'processing', 'cash on delivery leaves the order processing (paid for the bridge)');
    assert.equal(order.items.find((i) => i.product === spiff.id).spiff, SPIFF_TRANSACTION);
    if (k2p) assert.equal(order.items.find((i) => i.product === k2p.id).k2p, K2P_PROJECT);

    if (!args.smoke) {
      await step('Apliiq waits for approval; the owner approves it in the order box', () => approveInOrderBox(owner, shop, sandbox, orderId));
    }
    const want = args.smoke ? { spiff: 1 } : { spiff: 1, apliiq: 1, key2print: 1 };
    await step('the webhooks reach the bridge; one order per provider reaches the sandboxes', async () => {
      await providerOrders(shop, sandbox, want);
      const o = await jobsSettled(bridge, orderId);
      const s = await sandbox.stats();
      assert.deepEqual(s.spiff_orders, { [SPIFF_TRANSACTION]: 1 });
      if (!args.smoke) {
        assert.deepEqual(s.apliiq_orders, { [String(orderId)]: 1 });
        assert.deepEqual(s.key2print_downloads, { [K2P_PROJECT]: 1 });
      }
      assert.equal(s.rejected_signatures, 0);
      const providerJobs = o.jobs.filter((j) => j.provider !== 'woocommerce');
      assert.deepEqual(providerJobs.map((j) => j.provider).sort(), Object.keys(want).sort(), JSON.stringify(o.jobs));
    });
    const orderUrl = await step('the order screen shows the notes and the PrintBridge box', () => orderScreen(owner, shop, orderId, Object.keys(want)));
    assert.deepEqual(pageErrors, [], 'no JavaScript error on the customer\'s pages');
    assert.deepEqual(foreign, [], 'the customer\'s pages load nothing from other hosts but the provider scripts');

    if (!args.smoke) {
      await step('Store API: 400 without a design id, extensions.printbridge with one', () => storeApi(shop, spiff.id));
      await step('an integrator opens the API docs: the operations and the order events', () => apiDocs(browser, bridge));
      const priced = createPricedProduct(shop);
      const answers = [];
      providerRoutes[K2P_PRICE] = gatewayPrice(bridge, priced.id, answers);
      await step('the editor\'s price is the cart line, the order total and the order\'s amount', () => editorPriceInTheCart(customer, shop, bridge, priced, answers));
      await step('customer reopens the priced design, chooses another production time: the line\'s new price', () => reopenPricedLine(customer, shop, priced));
      assert.deepEqual(pageErrors, [], 'no JavaScript error on the customer\'s pages');
      assert.deepEqual(foreign, [], 'nothing from other hosts but the provider scripts');
      await step('editor load failures: a message, no cart line, no Key2print session', () => editorFailures(browser, owner, shop, spiff, k2p, sandbox));
      await step('disabled webhooks: the notice and re-enable', () => disabledWebhooks(owner, shop, bridge, orderUrl));
    }
    // No PHP warning, notice or deprecation from the plugin over the whole run.
    execFileSync('bash', [path.join(shopScripts, 'check-debug-log.sh'), shop.dir], { stdio: 'inherit' });
  } catch (e) {
    await failureShots(prefix);
    throw e;
  } finally {
    await browser.close().catch(() => {});
    if (args.keep) {
      console.log(`kept: ${work} (database ${db})`);
    } else try {
      fs.rmSync(work, { recursive: true, force: true });
      execFileSync('php', ['-r', `$m = new mysqli('127.0.0.1', 'root', '', '', 3306); $m->query('DROP DATABASE IF EXISTS \`${db}\`');`]);
    } catch { /* the database is dropped on the next install anyway */ }
  }
}

let failed = false;
const t0 = Date.now();
try {
  await main();
  console.log(`[${label}] browser tests passed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
} catch (e) {
  failed = true;
  console.error(e);
  console.error(processReport());
} finally {
  await stopAll();
}
process.exit(failed ? 1 : 0);
