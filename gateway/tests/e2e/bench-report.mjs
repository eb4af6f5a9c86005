// prep-bench's HTML report in real headless Chromium with the network off: the page must draw its
// plots from what it carries. Run by gateway/tests/integration/test_bench.py; prints one JSON
// line: for each canvas the lines it says it drew and the pixels that are not background, and
// every request the page tried besides its own file (there must be none).
//
// usage: node bench-report.mjs REPORT_FILE PROFILE_DIR [SCREENSHOT.png]
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(process.env.PREP_PLAYWRIGHT_DIR + '/node_modules/');
const { chromium } = require('playwright-core');
const [report, profile, shot] = process.argv.slice(2);
const url = pathToFileURL(report).href;

const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  offline: true,
  viewport: { width: 1100, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const out = { ok: true, requests: [], errors: [] };
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('pageerror', (e) => out.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') out.errors.push(m.text()); });
  await ctx.route('**/*', (route) => {
    const u = route.request().url();
    if (u === url) return route.continue();
    out.requests.push(u);
    return route.abort();
  });
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 15000 });
  out.canvases = await page.evaluate(() => [...document.querySelectorAll('canvas')].map((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let ink = 0, colour = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250) ink++;
      // the plotted lines are coloured; axes and labels are grey
      if (Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 60) colour++;
    }
    return { id: c.id, drawn: Number(c.dataset.drawn || 0), ink, colour };
  }));
  out.summary = await page.textContent('#summary');
  if (shot) await page.screenshot({ path: shot, fullPage: true });
} catch (e) {
  out.ok = false;
  out.error = String(e);
}
await ctx.close();
console.log(JSON.stringify(out));
process.exit(out.ok ? 0 : 1);
