// End-to-end test of the capture page in real headless Chromium (Debian's chromium driven by
// playwright-core), run by gateway/tests/integration/test_capture_browser.py, which starts the
// gateway, loads the elections, creates the accounts and has a clerk accept the actas in the
// order of the plan. Two capturists and a supervisor, each in a browser context of their own,
// work with the keyboard alone (no mouse event is sent): keys are pressed one at a time with a
// typing model (60-120 ms per key, 300-500 ms to read each field off the photo, seeded, so every
// run types at the same pace). Prints one JSON line of results.
//
// usage: node capture.mjs PLAN.json
//   PLAN: {base, shots, users: {cap1, cap2, sup: {username, password}}, actas: {P1..P5: {photo_id,
//          clave, fields: [ids]}}, figures: {"P1": {...}, "P2a": ..., "P2b": ..., "P3": ...},
//          secret: {"P2a": [numbers only cap1 typed], "P2b": [...]}, note}
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(process.env.PREP_PLAYWRIGHT_DIR + '/node_modules/');
const { chromium } = require('playwright-core');
const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { base, shots, users, actas, figures, secret } = plan;
const out = { ok: true, times: {}, claims: {}, errors: [] };

// mulberry32: a small seeded generator, so that the typing model is the same on every run.
let seed = 20261207;
function rand() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const started = Date.now();
// Progress on stderr, which the test shows when the script fails or hangs.
const step = (what) => process.stderr.write(`capture.mjs ${((Date.now() - started) / 1000).toFixed(1)}s: ${what}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const keyDelay = () => sleep(60 + 60 * rand());
const fieldPause = () => sleep(300 + 200 * rand());

async function press(page, key) {
  await page.keyboard.press(key);
  await keyDelay();
}

async function typeText(page, text) {
  for (const ch of text) await press(page, ch);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

// One browser context per person; every request and every JSON answer is recorded so that the
// test can say what each page asked for and what it was told.
async function person(name) {
  const ctx = await browser.newContext({
    ignoreHTTPSErrors: true, // the test certificate is self-signed
    // Playwright's polling helpers evaluate strings, which the pages' CSP (rightly) forbids.
    bypassCSP: true,
    viewport: { width: 1400, height: 900 },
    locale: 'es-MX',
  });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20000);
  const p = { name, ctx, page, requests: [], bodies: [] };
  page.on('pageerror', (e) => out.errors.push(`${name}: ${e}`));
  page.on('console', (m) => { if (m.type() === 'error') out.errors.push(`${name}: ${m.text()}`); });
  page.on('request', (r) => p.requests.push(r.method() + ' ' + r.url().replace(base, '')));
  page.on('response', (r) => {
    const type = r.headers()['content-type'] || '';
    if (type.includes('json')) {
      // Read at once; a body Chromium no longer holds (the page moved on) counts as nothing.
      const text = r.text().then((t) => ({ url: r.url().replace(base, ''), status: r.status(), text: t }),
        () => null);
      p.bodies.push(Promise.race([text, sleep(5000).then(() => null)]));
    }
  });
  return p;
}

// Logs in on the login page with the keyboard: the user name field has the focus.
async function login(p, user, path) {
  const { page } = p;
  await page.goto(base + path);
  await page.waitForURL(/\/login\//, { timeout: 15000 });
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'username');
  await typeText(page, user.username);
  await press(page, 'Tab');
  await typeText(page, user.password);
  await press(page, 'Enter');
  await page.waitForURL((u) => !u.pathname.startsWith('/login/'), { timeout: 15000 });
}

// Waits until the page shows an acta ready to type and returns its photo id.
async function shownActa(p, timeout = 20000) {
  await p.page.waitForFunction(() => document.body.dataset.mode === 'typing' &&
    document.getElementById('photo').naturalWidth > 0 &&
    document.activeElement && document.activeElement.dataset.field, null, { timeout });
  return p.page.getAttribute('#photo', 'data-photo-id');
}

// Types |figs| (field id -> number, "ilegible" or "sin_dato") in the page's order, with the
// typing model; stops on the final review.
async function typeFigures(p, figs) {
  const { page } = p;
  const order = await page.$$eval('#field-list input', (xs) => xs.map((x) => x.dataset.field));
  for (const id of order) {
    await fieldPause();
    const focused = await page.evaluate(() => document.activeElement.dataset.field);
    if (focused !== id) throw new Error(`${p.name}: focus on ${focused}, expected ${id}`);
    const v = figs[id];
    if (v === 'ilegible') await press(page, 'i');
    else if (v === 'sin_dato') await press(page, 'b');
    else await typeText(page, String(v));
    await press(page, 'Enter');
  }
  await page.waitForFunction(() => document.body.dataset.mode === 'final');
  return order;
}

// Sends the capture with Enter from the final review and waits for the answer on the page.
async function send(p, clave) {
  const { page } = p;
  await sleep(500); // reading the sum against the total
  await press(page, 'Enter');
  await page.waitForFunction((c) => document.getElementById('status').textContent.includes('Registrada ' + c),
    clave, { timeout: 20000 });
  return page.evaluate(() => ({ state: document.body.dataset.lastState, seconds: Number(document.body.dataset.lastSeconds),
    status: document.getElementById('status').textContent }));
}

// One whole capture of the acta on screen: returns the answer and the seconds from the first
// key to the answer on the page; what |atFinal| does on the final review (a screenshot, going
// back once) is not counted.
async function capture(p, key, figs, atFinal) {
  const t0 = Date.now();
  const order = await typeFigures(p, figs);
  const verdict = await p.page.textContent('#final-verdict');
  let aside = 0;
  if (atFinal) {
    const t1 = Date.now();
    await atFinal();
    aside = Date.now() - t1;
  }
  const res = await send(p, actas[key].clave);
  res.seconds_typed = (Date.now() - t0 - aside) / 1000;
  res.fields = order.length;
  res.verdict = verdict;
  return res;
}

// Every number the page shows: text and the values of its inputs, as digit runs.
async function numbersOnPage(page) {
  return page.evaluate(() => {
    const text = document.body.innerText + ' ' +
      [...document.querySelectorAll('input')].map((i) => i.value).join(' ');
    return (text.replace(/[.,](?=\d{3}\b)/g, '').match(/\d+/g) || []).map(Number);
  });
}

// Every number in the JSON answers the page received (walked, not searched as text: a lease
// token's hex could hold any digits).
async function numbersReceived(p) {
  const found = [];
  const walk = (v) => {
    if (typeof v === 'number') found.push(v);
    else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  const keys = [];
  for (const b of await Promise.all(p.bodies)) {
    if (!b || !b.text) continue;
    let doc;
    try { doc = JSON.parse(b.text); } catch { continue; }
    walk(doc);
    if (doc && typeof doc === 'object') keys.push(...Object.keys(doc));
  }
  return { numbers: found, keys };
}

function expectActa(p, key, got) {
  step(`${p.name} has ${key}`);
  (out.claims[p.name] = out.claims[p.name] || []).push(got);
  if (got !== actas[key].photo_id) throw new Error(`${p.name} was given ${got}, expected ${key} ${actas[key].photo_id}`);
}

// A last resort against a hang: the test reads one JSON line whatever happens.
setTimeout(() => {
  console.log(JSON.stringify({ ...out, ok: false, error: 'watchdog: still running after 250 s' }));
  process.exit(1);
}, 250000).unref();
try {
  const sup = await person('sup');
  const cap1 = await person('cap1');
  const cap2 = await person('cap2');

  // The supervisor watches the counters; a page opened before login lands there after it.
  step('sup logs in');
  await login(sup, users.sup, '/capture/counters/');
  await sup.page.waitForSelector('#k-captured', { timeout: 15000 });
  const counters0 = Number(await sup.page.textContent('#k-captured'));
  out.counters_before = counters0;

  // cap1: the login page sends a capturist to /capture/, where the first acta waits.
  step('cap1 logs in');
  await login(cap1, users.cap1, '/');
  expectActa(cap1, 'P1', await shownActa(cap1));
  out.cap1_url = cap1.page.url().replace(base, '');
  // The image: + zooms, arrows move it, * fits it again.
  const s0 = Number(await cap1.page.getAttribute('#photo', 'data-scale'));
  await press(cap1.page, '+');
  await press(cap1.page, '+');
  await press(cap1.page, 'ArrowRight');
  await press(cap1.page, 'ArrowDown');
  const zoomed = await cap1.page.evaluate(() => ({ ...document.getElementById('photo').dataset }));
  await press(cap1.page, '*');
  const fitted = Number(await cap1.page.getAttribute('#photo', 'data-scale'));
  out.zoom = { before: s0, after: Number(zoomed.scale), x: Number(zoomed.x), y: Number(zoomed.y), fitted };
  // A letter is not a figure; the focus is still on the first field after it.
  await press(cap1.page, 'x');
  out.letter_ignored = await cap1.page.inputValue('#field-list input >> nth=0');
  out.P1_cap1 = await capture(cap1, 'P1', figures.P1);

  // cap2 gets the acta captured once first, and captures the same figures.
  await login(cap2, users.cap2, '/capture/');
  expectActa(cap2, 'P1', await shownActa(cap2));
  out.P1_cap2 = await capture(cap2, 'P1', figures.P1);
  // The supervisor's counters moved by themselves (events stream), no reload.
  await sup.page.waitForFunction((n) => Number(document.getElementById('k-captured').textContent) > n,
    counters0, { timeout: 15000 });
  out.counters_live_captured = Number(await sup.page.textContent('#k-captured'));

  // P2: cap1 and cap2 disagree on two fields.
  expectActa(cap1, 'P2', await shownActa(cap1));
  out.P2_cap1 = await capture(cap1, 'P2', figures.P2a, async () => {
    // Escape goes back to the fields (the total), Enter comes back to the review.
    await press(cap1.page, 'Escape');
    await cap1.page.waitForFunction(() => document.body.dataset.mode === 'typing' &&
      document.activeElement.dataset.kind === 'total');
    await press(cap1.page, 'Enter');
    await cap1.page.waitForFunction(() => document.body.dataset.mode === 'final');
  });
  expectActa(cap2, 'P2', await shownActa(cap2));
  const before = await numbersOnPage(cap2.page);
  const order = await typeFigures(cap2, figures.P2b);
  const typed = await numbersOnPage(cap2.page);
  out.P2_cap2_final = await cap2.page.textContent('#final-verdict');
  await cap2.page.screenshot({ path: shots + '/capture-sum-differs.png' });
  out.P2_cap2 = await send(cap2, actas.P2.clave);
  out.P2_cap2.fields = order.length;
  const leak = secret.P2a.filter((n) => before.includes(n) || typed.includes(n));
  out.cap2_dom_leak = leak;
  await sup.page.waitForFunction(() => Number(document.getElementById('k-in_dispute').textContent) >= 1,
    null, { timeout: 15000 });
  out.counters_live_in_dispute = Number(await sup.page.textContent('#k-in_dispute'));

  step('P3');
  // P3, the acta of 12 fields, timed: both capturists agree.
  expectActa(cap1, 'P3', await shownActa(cap1));
  out.P3_cap1 = await capture(cap1, 'P3', figures.P3,
    () => cap1.page.screenshot({ path: shots + '/capture-page.png' }));
  expectActa(cap2, 'P3', await shownActa(cap2));
  out.P3_cap2 = await capture(cap2, 'P3', figures.P3);

  step('P4');
  // P4: cap1 sends it back as illegible: F2, a note, Enter; Escape first cancels once.
  expectActa(cap1, 'P4', await shownActa(cap1));
  await press(cap1.page, 'F2');
  await cap1.page.waitForFunction(() => document.body.dataset.mode === 'return');
  await press(cap1.page, 'Escape');
  await cap1.page.waitForFunction(() => document.body.dataset.mode === 'typing');
  await press(cap1.page, 'F2');
  await cap1.page.waitForFunction(() => document.body.dataset.mode === 'return');
  await typeText(cap1.page, plan.note);
  await press(cap1.page, 'Enter');
  await cap1.page.waitForFunction(() => /Devuelta a verificaci/.test(document.getElementById('status').textContent),
    null, { timeout: 15000 });
  out.P4_status = await cap1.page.textContent('#status');
  // P5: cap1 leaves the page; the acta is released (the test checks the lease).
  expectActa(cap1, 'P5', await shownActa(cap1));
  await cap1.page.goto(base + '/login/');
  await sleep(500);

  step('network');
  // What cap2's page asked for and was told: the claim's members, no figures of anyone else.
  const got = await numbersReceived(cap2);
  out.cap2_network_leak = secret.P2a.filter((n) => got.numbers.includes(n));
  out.cap2_keys = [...new Set(got.keys)].sort();
  out.cap2_requests = [...new Set(cap2.requests.map((r) => r.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '{id}')))].sort();

  // The supervisor decides the dispute: the differing fields are marked, no values shown.
  await sup.page.goto(base + '/capture/?modo=disputa');
  expectActa(sup, 'P2', await shownActa(sup));
  out.disputed_marked = await sup.page.$$eval('#field-list li.disputed', (xs) => xs.map((x) => x.dataset.field));
  out.dispute_note = await sup.page.textContent('#dispute-note');
  const supSeen = await numbersOnPage(sup.page);
  out.sup_dom_leak = [...secret.P2a, ...secret.P2b].filter((n) => supSeen.includes(n));
  await sup.page.screenshot({ path: shots + '/capture-dispute.png' });
  await typeFigures(sup, figures.P2a);
  out.P2_sup = await send(sup, actas.P2.clave);
  await sup.page.waitForFunction(() => document.body.dataset.mode === 'empty', null, { timeout: 15000 });
  const supGot = await numbersReceived(sup);
  out.sup_network_leak = [...secret.P2a, ...secret.P2b].filter((n) => supGot.numbers.includes(n));
  out.sup_keys = [...new Set(supGot.keys)].sort();

  step('counters');
  // The counters at the end.
  await sup.page.goto(base + '/capture/counters/');
  await sup.page.waitForFunction(() => document.querySelectorAll('#districts tr[data-district]').length > 0 &&
    Number(document.getElementById('k-in_dispute').textContent) === 0, null, { timeout: 15000 });
  out.counters = await sup.page.evaluate(() => {
    const t = {};
    for (const b of document.querySelectorAll('#totals b')) t[b.id.slice(2)] = Number(b.textContent.replace(/\D/g, ''));
    const d = {};
    for (const tr of document.querySelectorAll('#districts tr[data-district]')) {
      d[tr.dataset.district] = {};
      for (const td of tr.querySelectorAll('td[data-key]')) d[tr.dataset.district][td.dataset.key] = Number(td.textContent.replace(/\D/g, ''));
    }
    return { total: t, districts: d };
  });
  await sup.page.screenshot({ path: shots + '/capture-counters.png', fullPage: true });
  // The session check before logging in is a 401, which Chromium logs as a failed resource.
  out.errors = out.errors.filter((e) => !/favicon|status of 401/.test(e));
} catch (e) {
  out.ok = false;
  out.error = String(e && e.stack || e);
}
step(out.ok ? 'done' : 'failed: ' + out.error);
await Promise.race([browser.close(), sleep(10000)]);
console.log(JSON.stringify(out));
process.exit(out.ok ? 0 : 1);
