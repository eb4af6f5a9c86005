// Capture's counters for supervisors: GET /v1/capture/counters (totals and by district); the
// totals are kept live by the events stream (member "capture"), which also triggers a re-read of
// the districts, at most every 2 s.
'use strict';

const KEYS = [['expected', 'Esperadas'], ['received', 'Recibidas'], ['accepted', 'Aceptadas'],
  ['captured_once', 'Capturadas una vez'], ['captured', 'Capturadas'], ['in_dispute', 'En disputa'],
  ['contabilizadas', 'Contabilizadas'], ['no_contabilizadas', 'No contabilizadas']];
const num = (v) => (v || 0).toLocaleString('es-MX');
let shown = null;

function totals(t) {
  const box = document.getElementById('totals');
  if (!box.children.length) {
    for (const [k, name] of KEYS) {
      const d = document.createElement('div');
      const b = document.createElement('b');
      b.id = 'k-' + k;
      d.append(b, name);
      box.append(d);
    }
  }
  for (const [k] of KEYS) {
    const b = document.getElementById('k-' + k);
    const text = num(t[k]);
    b.classList.toggle('moved', shown !== null && b.textContent !== text);
    b.textContent = text;
  }
  shown = t;
  document.getElementById('updated').textContent = '· ' + new Date().toLocaleTimeString('es-MX');
}

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  tr.append(td);
  return td;
}

function districts(rows) {
  const el = document.getElementById('districts');
  const cap = el.querySelector('caption');
  el.replaceChildren(cap);
  const head = document.createElement('tr');
  for (const h of ['Estado', 'Distrito', ...KEYS.map((x) => x[1]), 'Avance']) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = h;
    if (!['Estado', 'Distrito', 'Avance'].includes(h)) th.className = 'num';
    head.append(th);
  }
  el.append(head);
  for (const r of rows) {
    const tr = document.createElement('tr');
    tr.dataset.district = `${r.state}-${r.district}`;
    cell(tr, r.state);
    cell(tr, r.district);
    for (const [k] of KEYS) cell(tr, num(r[k]), 'num').dataset.key = k;
    const pct = r.expected ? Math.round(100 * r.captured / r.expected) : 0;
    const td = cell(tr, '');
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.setAttribute('role', 'img');
    bar.setAttribute('aria-label', pct + '% capturado');
    const fill = document.createElement('span');
    fill.style.width = pct + '%';
    bar.append(fill);
    td.append(bar);
    el.append(tr);
  }
}

async function refresh() {
  const r = await PREP.call('GET', '/v1/capture/counters');
  if (r.status !== 200) return;
  totals(r.body.total);
  districts(r.body.districts);
}

let pending = null;
(async () => {
  await PREP.requireSession(['supervisor', 'admin']);
  await refresh();
  PREP.counters((c) => {
    if (!c.capture) return;
    const changed = !shown || KEYS.some(([k]) => shown[k] !== c.capture[k]);
    totals(c.capture);
    if (changed && !pending) pending = setTimeout(() => { pending = null; refresh(); }, 2000);
  });
  setInterval(refresh, 30000);
})();
