// Early refusals read by Chromium's fetch: run by gateway/tests/integration/test_refusal_curl.py.
// Loads a page of the gateway (so that fetch is same-origin), then POSTs the file BODY as a photo
// once per case and prints one JSON line: per case the HTTP status and the problem's type.
//
// usage: node refusal.mjs BASE_URL BODY CASES_JSON PROFILE_DIR
//   CASES_JSON: [{"name": ..., "path": ..., "headers": {...}}, ...]
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(process.env.PREP_PLAYWRIGHT_DIR + '/node_modules/');
const { chromium } = require('playwright-core');
const [base, bodyPath, casesJson, profile] = process.argv.slice(2);

const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  ignoreHTTPSErrors: true, // the test certificate is self-signed
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const out = { ok: true, results: [] };
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  await page.goto(base + '/login/');
  const body = readFileSync(bodyPath).toString('base64');
  for (const c of JSON.parse(casesJson)) {
    out.results.push(await page.evaluate(async ({ c, body }) => {
      const bytes = Uint8Array.from(atob(body), (ch) => ch.charCodeAt(0));
      try {
        const r = await fetch(c.path, { method: 'POST', headers: c.headers, body: bytes });
        const text = await r.text();
        let type = null;
        try { type = JSON.parse(text).type; } catch (e) { /* not JSON */ }
        return { name: c.name, status: r.status, type,
          content_type: r.headers.get('content-type') };
      } catch (e) {
        return { name: c.name, status: 0, error: String(e) };
      }
    }, { c, body }));
  }
} catch (e) {
  out.ok = false;
  out.error = String(e);
}
await ctx.close();
console.log(JSON.stringify(out));
