// The dashboard: GET /v1/progress, refreshed when the live counters move.
'use strict';

const LABELS = [['expected', 'Esperadas'], ['received', 'Recibidas'], ['verified', 'Verificadas'],
  ['rejected', 'Rechazadas'], ['retake', 'Retoma pedida'], ['out_of_catalogue', 'Fuera de catálogo']];

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  tr.append(td);
  return td;
}

function table(el, rows, key, keyName) {
  const cap = el.querySelector('caption');
  el.replaceChildren(cap);
  const head = document.createElement('tr');
  for (const h of ['Estado', keyName, 'Esperadas', 'Recibidas', 'Verificadas', 'Rechazadas', 'Retoma', 'Avance']) {
    const th = document.createElement('th'); th.scope = 'col'; th.textContent = h;
    if (!['Estado', keyName, 'Avance'].includes(h)) th.className = 'num';
    head.append(th);
  }
  el.append(head);
  for (const r of rows) {
    const tr = document.createElement('tr');
    cell(tr, r.state); cell(tr, r[key]);
    for (const k of ['expected', 'received', 'verified', 'rejected', 'retake']) cell(tr, r[k].toLocaleString('es-MX'), 'num');
    const pct = r.expected ? Math.round(100 * r.verified / r.expected) : 0;
    const td = cell(tr, '');
    const bar = document.createElement('div'); bar.className = 'bar';
    bar.setAttribute('role', 'img'); bar.setAttribute('aria-label', pct + '% verificado');
    const fill = document.createElement('span'); fill.style.width = pct + '%';
    bar.append(fill); td.append(bar);
    el.append(tr);
  }
}

async function refresh() {
  const r = await PREP.call('GET', '/v1/progress');
  if (r.status !== 200) return;
  const t = r.body.total;
  const totals = document.getElementById('totals');
  totals.replaceChildren();
  for (const [k, name] of LABELS) {
    const d = document.createElement('div');
    const b = document.createElement('b'); b.id = 't-' + k; b.textContent = (t[k] || 0).toLocaleString('es-MX');
    d.append(b, name);
    totals.append(d);
  }
  table(document.getElementById('districts'), r.body.districts, 'district', 'Distrito');
  table(document.getElementById('municipalities'), r.body.municipalities, 'municipality', 'Municipio');
}

let pending = null;
(async () => {
  const s = await PREP.requireSession(['clerk', 'supervisor', 'admin']);
  if (s.role !== 'clerk') document.getElementById('prio-card').hidden = false;
  await refresh();
  PREP.counters((c) => {
    PREP.showCounts(c);
    // At most one refresh per 2 s however fast decisions come in.
    if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 2000);
  });
  document.getElementById('prio').addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { state: Number(document.getElementById('p-state').value) };
    const d = document.getElementById('p-district').value, m = document.getElementById('p-mun').value.trim();
    if (d) body.district = Number(d); else body.municipality = m;
    const r = await PREP.call('POST', '/v1/review/priority', body);
    document.getElementById('p-status').textContent = r.status === 200
      ? `Priorizado: ${r.body.queued_photos} fotos en espera suben en la cola.` : PREP.problemText(r.body);
  });
})();
