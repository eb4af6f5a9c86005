// Supervisor view: the append-only decision history, with reopen.
'use strict';

const NAMES = { accept: 'aceptada', reject: 'rechazada', retake: 'retoma', duplicate: 'duplicada', reopen: 'reabierta' };

async function load() {
  const q = new URLSearchParams({ limit: '200' });
  const clave = document.getElementById('f-clave').value.trim();
  const user = document.getElementById('f-user').value.trim();
  if (clave) q.set('clave', clave);
  if (user) q.set('user', user);
  const r = await PREP.call('GET', '/v1/review/history?' + q);
  const st = document.getElementById('status');
  if (r.status !== 200) { st.textContent = PREP.problemText(r.body); st.classList.add('error'); return; }
  st.textContent = r.body.length + ' decisiones';
  const t = document.getElementById('rows');
  const cap = t.querySelector('caption');
  t.replaceChildren(cap);
  const head = document.createElement('tr');
  for (const h of ['#', 'Fecha', 'Usuario', 'Clave', 'Decisión', 'Motivo / nota', 'Estado actual', '']) {
    const th = document.createElement('th'); th.scope = 'col'; th.textContent = h; head.append(th);
  }
  t.append(head);
  for (const d of r.body) {
    const tr = document.createElement('tr');
    for (const v of [d.decision_id, d.decided_at, d.user, d.clave_acta, NAMES[d.decision] || d.decision,
      [d.reason, d.duplicate_of && 'de ' + d.duplicate_of.slice(0, 8), d.note].filter(Boolean).join(' · '), d.current_state]) {
      const td = document.createElement('td'); td.textContent = v == null ? '' : v; tr.append(td);
    }
    const td = document.createElement('td');
    if (d.current_state !== 'waiting' && d.decision !== 'reopen') {
      const b = document.createElement('button');
      b.type = 'button'; b.textContent = 'Reabrir';
      b.addEventListener('click', async () => {
        const note = prompt('Motivo de la reapertura') || '';
        const x = await PREP.call('POST', `/v1/review/${d.photo_id}/reopen`, { note });
        document.getElementById('status').textContent = x.status === 200 ? 'Reabierta.' : PREP.problemText(x.body);
        load();
      });
      td.append(b);
    }
    tr.append(td);
    t.append(tr);
  }
}

(async () => {
  await PREP.requireSession(['clerk', 'supervisor', 'admin']);
  document.getElementById('filter').addEventListener('submit', (e) => { e.preventDefault(); load(); });
  load();
})();
