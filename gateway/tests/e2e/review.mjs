// End-to-end test of the clerks' web application in real headless Chromium (Debian's chromium,
// driven by playwright-core). Run by gateway/tests/integration/test_review_browser.py, which
// starts the gateway, creates the clerk and queues the photos; prints one JSON line of results.
//
// usage: node review.mjs BASE_URL USER PASSWORD SCREENSHOT_DIR PROFILE_DIR
import { createRequire } from 'node:module';

const require = createRequire(process.env.PREP_PLAYWRIGHT_DIR + '/node_modules/');
const { chromium } = require('playwright-core');
const [base, user, password, shots, profile] = process.argv.slice(2);
const fail = (msg) => { console.log(JSON.stringify({ ok: false, error: msg })); process.exit(1); };

const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  ignoreHTTPSErrors: true, // the test certificate is self-signed
  // Playwright's polling helpers evaluate strings, which the pages' CSP (rightly) forbids.
  bypassCSP: true,
  viewport: { width: 1400, height: 900 },
  locale: 'es-MX',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const out = { ok: true };
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

  // Not logged in: the review page sends us to the login page.
  await page.goto(base + '/review/');
  await page.waitForURL(/\/login\//, { timeout: 15000 });
  await page.fill('#password', 'contraseña-equivocada');
  await page.fill('#username', user);
  await page.click('button[type=submit]');
  await page.waitForSelector('#status.error', { timeout: 15000 });
  out.wrong_password_message = await page.textContent('#status');
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/review\/$/, { timeout: 15000 });

  // A photo is claimed and shown; the counters arrive over SSE.
  await page.waitForSelector('#photo:not([hidden])', { timeout: 20000 });
  await page.waitForFunction(() => document.getElementById('photo').naturalWidth > 0);
  await page.waitForFunction(() => /^\d+$/.test(document.getElementById('c-waiting').textContent));
  const first = await page.getAttribute('#photo', 'data-photo-id');
  const clave = await page.textContent('#clave');
  const accepted0 = Number(await page.textContent('#c-accepted'));
  out.first = first; out.clave = clave; out.accepted_before = accepted0;

  // Zoom with the keyboard and the button; the image's scale changes.
  const s0 = Number(await page.getAttribute('#photo', 'data-scale'));
  await page.keyboard.press('+');
  await page.click('#zoom-in');
  const s1 = Number(await page.getAttribute('#photo', 'data-scale'));
  if (!(s1 > s0 * 1.5)) fail(`zoom did not grow the image: ${s0} -> ${s1}`);
  out.zoom = [s0, s1];
  await page.keyboard.press('0');

  await page.screenshot({ path: shots + '/review.png' });

  // Decide with the keyboard: A accepts; the next (prefetched) photo replaces it.
  await page.keyboard.press('a');
  await page.waitForFunction((id) => {
    const p = document.getElementById('photo');
    return p.dataset.photoId && p.dataset.photoId !== id && p.naturalWidth > 0;
  }, first, { timeout: 15000 });
  out.second = await page.getAttribute('#photo', 'data-photo-id');
  // The live counter moves (SSE from LISTEN/NOTIFY).
  await page.waitForFunction((n) => Number(document.getElementById('c-accepted').textContent) > n,
    accepted0, { timeout: 15000 });
  out.accepted_after = Number(await page.textContent('#c-accepted'));
  // Reject the second one as illegible with "1".
  await page.keyboard.press('1');
  await page.waitForFunction(() => /ilegible/.test(document.getElementById('status').textContent),
    null, { timeout: 15000 });
  out.status_after_reject = await page.textContent('#status');

  // The dashboard shows the progress.
  await page.goto(base + '/dashboard/');
  await page.waitForSelector('#t-verified', { timeout: 15000 });
  out.dashboard_verified = await page.textContent('#t-verified');
  await page.screenshot({ path: shots + '/dashboard.png', fullPage: true });
  // The wrong password's 401 is logged by Chromium as a failed resource: expected.
  out.errors = errors.filter((e) => !/favicon|status of 401/.test(e));
} catch (e) {
  out.ok = false;
  out.error = String(e && e.stack || e);
}
await ctx.close();
console.log(JSON.stringify(out));
process.exit(out.ok ? 0 : 1);
