// End-to-end tests of the officials' app (web/app/) in real headless Chromium (Debian's chromium
// driven by playwright-core) with Chromium's fake camera playing a Y4M made from a generated acta.
// Run by gateway/tests/integration/test_app_browser.py, which starts a gateway that takes only
// signed uploads, makes the enrolment codes and checks the gateway's side; one scenario per run,
// one JSON line of results on stdout, progress on stderr.
//
// usage: node app.mjs PLAN.json
//   PLAN: {scenario, base, code, y4m, shots, clave, big (a 9 MB JPEG), clerk: {username, password}}
//   scenarios: enrol, photo, offline, cut, retake, kill
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(process.env.PREP_PLAYWRIGHT_DIR + '/node_modules/');
const { chromium } = require('playwright-core');
const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { base, shots } = plan;
const out = { ok: true, errors: [], requests: [] };
const started = Date.now();
const step = (what) => process.stderr.write(`app.mjs ${plan.scenario} ${((Date.now() - started) / 1000).toFixed(1)}s: ${what}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    // The test certificate is self-signed; a service worker is refused on a certificate error
    // unless Chromium is told to ignore it.
    '--ignore-certificate-errors',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    `--use-file-for-fake-video-capture=${plan.y4m}`],
});

// A phone: a browser context of its own (its own IndexedDB), portrait, Spanish; |noEd25519|:
// a browser whose WebCrypto has no Ed25519 (as Chromium before 137).
async function phone(name, noEd25519 = false) {
  const ctx = await browser.newContext({
    ignoreHTTPSErrors: true,
    // Playwright's polling helpers evaluate strings, which the app's CSP (rightly) forbids.
    bypassCSP: true,
    viewport: { width: 412, height: 860 },
    locale: 'es-MX',
    permissions: ['camera'],
  });
  if (noEd25519) {
    await ctx.addInitScript(() => {
      const s = crypto.subtle;
      const isEd = (a) => String(typeof a === 'string' ? a : (a && a.name) || '').toLowerCase() === 'ed25519';
      for (const f of ['generateKey', 'importKey', 'sign', 'verify']) {
        const orig = s[f].bind(s);
        // importKey(format, keyData, algorithm, ...): the algorithm is the third argument.
        s[f] = (...args) => (isEd(f === 'importKey' ? args[2] : args[0])
          ? Promise.reject(new DOMException('Unrecognized algorithm name', 'NotSupportedError'))
          : orig(...args));
      }
    });
  }
  const ph = { name, ctx, page: null };
  ph.open = async (path = '/app/') => {
    const page = await ctx.newPage();
    page.setDefaultTimeout(30000);
    page.on('pageerror', (e) => out.errors.push(`${name}: ${e}`));
    page.on('console', (m) => { if (m.type() === 'error' && !/net::ERR_INTERNET_DISCONNECTED|Failed to fetch|Failed to load resource/.test(m.text())) out.errors.push(`${name}: ${m.text()}`); });
    page.on('request', (r) => {
      const u = r.url().replace(base, '');
      if (!u.startsWith('/v1/')) return;
      const h = r.headers();
      out.requests.push({ method: r.method(), url: u, offset: h['upload-offset'] ?? null,
        complete: h['upload-complete'] ?? null, signed: 'signature-input' in h && 'signature' in h,
        digest: h['content-digest'] ?? null, bytes: (r.postDataBuffer() || Buffer.alloc(0)).length });
    });
    await page.goto(base + path);
    ph.page = page;
    return page;
  };
  return ph;
}

const ready = (page) => page.waitForFunction(() => document.body.dataset.ready === '1');

// Enrols phone |ph| by opening the enrolment link (what scanning the QR code does) and tapping
// Registrar.
async function enrol(ph, code) {
  const link = plan.link || `${base}/app/#enrol=${code}`;
  const page = await ph.open(link.slice(base.length));
  await ready(page);
  out.code_prefilled = await page.inputValue('#code');
  out.enrol_note = { text: await page.textContent('#enrol-msg'), crypto: await page.getAttribute('#enrol-msg', 'data-crypto') };
  await page.fill('#label', 'casilla 0338 B');
  await page.click('#enrol');
  await page.waitForFunction(() => document.body.dataset.screen === 'home');
  // The service worker takes the page, so that a reload without signal still opens the app.
  await page.evaluate(() => navigator.serviceWorker.ready);
  // The enrolment covers a prefix: the official types the clave of the acta.
  await page.fill('#clave-typed', plan.clave);
  ph.device = await page.evaluate(() => new Promise((res) => {
    const r = indexedDB.open('prep-app');
    r.onsuccess = () => {
      const g = r.result.transaction('device').objectStore('device').get('self');
      g.onsuccess = () => res({ device_id: g.result.device_id, actas: g.result.actas,
        public_key: g.result.public_key, lib: g.result.lib || null,
        extractable: g.result.keyPair ? g.result.keyPair.privateKey.extractable : null });
    };
  }));
  return page;
}

// A phone enrolled with the plan's code (|noEd25519|: as phone()); its device goes in the results.
async function enrolled(noEd25519 = false) {
  const a = await phone('a', noEd25519);
  const page = await enrol(a, plan.code);
  out.device = a.device;
  return { a, page };
}

// Everything in the queue (IndexedDB) as the page sees it.
const queue = (page) => page.evaluate(() => new Promise((res) => {
  const r = indexedDB.open('prep-app');
  r.onsuccess = () => {
    const g = r.result.transaction('photos').objectStore('photos').getAll();
    g.onsuccess = () => res(g.result.map((p) => ({ local_id: p.local_id, clave: p.clave, state: p.state,
      size: p.size, sha256: p.sha256, blob: p.blob ? p.blob.size : null, offset: p.offset,
      photo_id: p.photo_id, receipt: p.receipt, upload_url: p.upload_url, error: p.error })));
  };
}));

// Opens the camera, shoots until the page's hints match |want| (a frame of the fake camera's
// loop: a dark one or a good one), returns the hints and measures.
async function shootUntil(page, want, tries = 12, unlike = null) {
  for (let i = 0; i < tries; i++) {
    const screen = await page.evaluate(() => document.body.dataset.screen);
    if (screen === 'home') await page.click('#take');
    else if (screen === 'preview') await page.click('#again');
    await page.waitForFunction(() => document.body.dataset.camera === 'on' && document.getElementById('video').videoWidth > 0)
      .catch(async (e) => { throw new Error(`camera: ${await page.evaluate(() => [document.body.dataset.screen, document.body.dataset.camera, document.body.dataset.cameraError, document.getElementById('take-msg').textContent, document.getElementById('clave-typed').value, document.getElementById('clave').value, document.getElementById('video').videoWidth].join(' | '))}: ${e}`); });
    await sleep(200 + (700 * i) % 4000); // a different point of the fake camera's 4 s loop
    await page.click('#shoot');
    await page.waitForFunction(() => document.body.dataset.screen === 'preview');
    const h = await page.evaluate(() => ({ hints: document.body.dataset.hints, measures: JSON.parse(document.body.dataset.measures) }));
    step(`shot ${i}: hints [${h.hints}] ${JSON.stringify(h.measures)}`);
    const other = !unlike || Math.abs(h.measures.luma - unlike.measures.luma) > 4;
    if (other && (want === 'good' ? h.hints === '' : h.hints.split(',').includes(want))) return h;
  }
  throw new Error(`no frame gave the hint ${want}`);
}

async function waitState(page, localId, state, timeout = 60000) {
  await page.waitForFunction(([id, s]) => {
    const li = document.querySelector(`li[data-local-id="${id}"]`);
    return li && li.dataset.state === s;
  }, [localId, state], { timeout }).catch(async (e) => {
    throw new Error(`photo ${localId} not ${state}: ${JSON.stringify((await queue(page)).map((p) => [p.local_id, p.state, p.offset, p.error]))}: ${e}`);
  });
}

// Shoots a good photo (one unlike the good photo |unlike| when given) and sends it.
async function sendGood(page, retake = false, unlike = null) {
  if (retake) await page.click('li[data-state=retake] button.retake');
  const h = await shootUntil(page, 'good', 12, unlike);
  await page.click('#send');
  await page.waitForFunction(() => document.body.dataset.screen === 'home');
  const q = await queue(page);
  return { hints: h, local_id: Math.max(...q.map((p) => p.local_id)) };
}

const scenarios = {
  // Enrol with the code; a second phone with the same code is refused, clearly.
  async enrol() {
    const { a, page } = await enrolled();
    out.who = await page.textContent('#who');
    const b = await phone('b');
    const pb = await b.open('/app/#enrol=' + plan.code);
    await ready(pb);
    await pb.click('#enrol');
    await pb.waitForFunction(() => document.getElementById('enrol-msg').dataset.type);
    out.reuse_message = await pb.textContent('#enrol-msg');
    out.reuse_type = await pb.getAttribute('#enrol-msg', 'data-type');
    out.reuse_screen = await pb.evaluate(() => document.body.dataset.screen);
    await pb.screenshot({ path: shots + '/app-enrol.png' });
  },

  // A dark frame gets its hint, the retake is good, it is sent and the receipt verifies.
  async photo() {
    const a = await phone('a');
    const first = [];
    a.ctx.on('response', async (r) => {
      const u = r.url().replace(base, '');
      if (u.startsWith('/app/') && r.request().resourceType() !== 'fetch') {
        first.push({ url: u, status: r.status(), bytes: (await r.body().catch(() => Buffer.alloc(0))).length,
          headers: r.headers() });
      }
    });
    const page = await enrol(a, plan.code);
    out.device = a.device;
    out.first_load = first.slice();
    out.dark = await shootUntil(page, 'dark');
    await page.screenshot({ path: shots + '/app-hint.png' });
    const s = await sendGood(page);
    out.good = s.hints;
    await waitState(page, s.local_id, 'received');
    out.queue = await queue(page);
    out.item_text = await page.textContent(`li[data-local-id="${s.local_id}"] .what`);
    await page.screenshot({ path: shots + '/app-received.png' });
  },

  // Without signal: two photos wait; a reload (the service worker opens the app); back online,
  // both go, in order.
  async offline() {
    const { a, page } = await enrolled();
    await a.ctx.setOffline(true);
    const s1 = await sendGood(page);
    await waitState(page, s1.local_id, 'waiting');
    const s2 = await sendGood(page, false, s1.hints);
    await waitState(page, s2.local_id, 'waiting');
    out.net_pill = await page.textContent('#net');
    await page.screenshot({ path: shots + '/app-offline.png' });
    const bothWaiting = () => page.waitForFunction(() => [...document.querySelectorAll('#photos li')].map((x) => x.dataset.state).join() === 'waiting,waiting');
    await bothWaiting();
    out.before_reload = await queue(page);
    await page.reload();
    await ready(page);
    // The app tries at once after the reload, and finds no signal again.
    await bothWaiting();
    out.after_reload = await queue(page);
    await sleep(1000);
    await a.ctx.setOffline(false);
    await waitState(page, s1.local_id, 'received');
    await waitState(page, s2.local_id, 'received');
    out.queue = await queue(page);
  },

  // A 9 MB photo (the file input, as the phone's own camera gives it): the signal goes at a
  // third of the way; it resumes from the gateway's offset.
  async cut() {
    const { a, page } = await enrolled();
    let cut = false;
    page.on('request', (r) => {
      const off = Number(r.headers()['upload-offset'] || -1);
      if (!cut && r.method() === 'PATCH' && off >= 3 * (1 << 20)) {
        cut = true;
        out.cut_at = off;
        a.ctx.setOffline(true);
      }
    });
    await page.click('#take');
    await page.setInputFiles('#file', plan.big);
    await page.waitForFunction(() => document.body.dataset.screen === 'preview');
    await page.click('#send');
    await page.waitForFunction(() => document.querySelector('li[data-state=waiting]'), null, { timeout: 60000 });
    out.waiting = await queue(page);
    out.waiting_text = await page.textContent('li[data-state=waiting] .what');
    await sleep(1500);
    await a.ctx.setOffline(false);
    const id = out.waiting[0].local_id;
    await waitState(page, id, 'received', 120000);
    out.queue = await queue(page);
  },

  // A clerk sends the photo back as illegible in the review app; the phone shows why, and its
  // retake goes through, linked to the first.
  async retake() {
    const { a, page } = await enrolled();
    const s = await sendGood(page);
    await waitState(page, s.local_id, 'received');
    out.first = (await queue(page)).find((p) => p.local_id === s.local_id);
    // The clerk, in a context of their own, once the gateway has queued the photo.
    const c = await browser.newContext({ ignoreHTTPSErrors: true, bypassCSP: true, viewport: { width: 1400, height: 900 } });
    const cp = await c.newPage();
    await cp.goto(base + '/review/');
    await cp.waitForURL(/\/login\//);
    await cp.fill('#username', plan.clerk.username);
    await cp.fill('#password', plan.clerk.password);
    await cp.click('button[type=submit]');
    await cp.waitForURL(/\/review\/$/);
    await cp.waitForFunction((id) => document.getElementById('photo').dataset.photoId === id &&
      document.getElementById('photo').naturalWidth > 0, out.first.photo_id, { timeout: 60000 });
    await cp.keyboard.press('1');
    await cp.waitForFunction(() => /ilegible/.test(document.getElementById('status').textContent));
    out.clerk_status = await cp.textContent('#status');
    await c.close();
    // The phone learns it on its next look at the gateway (every 4 s).
    await page.waitForSelector('li[data-state=retake]', { timeout: 30000 });
    out.retake_text = await page.textContent('li[data-state=retake]');
    await page.screenshot({ path: shots + '/app-retake.png' });
    const s2 = await sendGood(page, true, s.hints);
    await waitState(page, s2.local_id, 'received');
    await page.waitForSelector(`li[data-local-id="${s2.local_id}"][data-retake-of]`, { timeout: 30000 });
    out.second = (await queue(page)).find((p) => p.local_id === s2.local_id);
    out.second_retake_of = await page.getAttribute(`li[data-local-id="${s2.local_id}"]`, 'data-retake-of');
  },

  // A browser without WebCrypto Ed25519: the app says so, signs with the bundled @noble/ed25519,
  // and the gateway takes the photo.
  async fallback() {
    const { a, page } = await enrolled(true);
    const s = await sendGood(page);
    await waitState(page, s.local_id, 'received');
    out.queue = await queue(page);
  },

  // The page is killed in the middle of sending a 9 MB photo: the queue still holds it, whole,
  // and the next opening of the app finishes it.
  async kill() {
    const { a, page } = await enrolled();
    let killed;
    const gone = new Promise((r) => { killed = r; });
    page.on('request', (r) => {
      const off = Number(r.headers()['upload-offset'] || -1);
      if (r.method() === 'PATCH' && off >= 2 * (1 << 20) && !out.killed_at) {
        out.killed_at = off;
        page.close({ runBeforeUnload: false }).then(killed, killed);
      }
    });
    await page.click('#take');
    await page.setInputFiles('#file', plan.big);
    await page.waitForFunction(() => document.body.dataset.screen === 'preview');
    await page.click('#send');
    await gone;
    // A page of the app's origin that does not run the app: what is in the queue now.
    const look = await a.open('/app/manifest.webmanifest');
    out.after_kill = await queue(look);
    await look.close();
    const again = await a.open('/app/');
    await ready(again);
    await waitState(again, out.after_kill[0].local_id, 'received', 120000);
    out.queue = await queue(again);
  },
};

try {
  await scenarios[plan.scenario]();
} catch (e) {
  out.ok = false;
  out.error = String(e && e.stack || e);
}
await browser.close();
console.log(JSON.stringify(out));
process.exit(out.ok ? 0 : 1);
