// The review page: one claimed photo on screen, the next one claimed and loaded in the
// background (prefetch), decisions by button or keyboard.
'use strict';

const $ = (id) => document.getElementById(id);
const REASONS = { 1: 'ilegible', 2: 'sin_acta', 3: 'no_es_acta', 4: 'acta_equivocada', 5: 'incompleta' };
const view = { scale: 1, rot: 0, x: 0, y: 0 };
let current = null;   // the claim on screen
let next = null;      // Promise of the prefetched claim (or null)
let busy = false;
let selectedGroup = null;

function status(text, error) {
  $('status').textContent = text;
  $('status').classList.toggle('error', !!error);
}

function applyView() {
  const img = $('photo');
  img.style.transform = `translate(-50%, -50%) translate(${view.x}px, ${view.y}px) ` +
    `rotate(${view.rot}deg) scale(${view.scale})`;
  img.style.filter = `contrast(${$('contrast').value}%) brightness(${$('brightness').value}%)`;
  $('zoom-level').textContent = Math.round(view.scale * 100) + '%';
  img.dataset.scale = view.scale.toFixed(2);
}

function fit() {
  const img = $('photo'), st = $('stage');
  if (!img.naturalWidth) return;
  const sideways = view.rot % 180 !== 0;
  const w = sideways ? img.naturalHeight : img.naturalWidth;
  const h = sideways ? img.naturalWidth : img.naturalHeight;
  view.scale = Math.min(st.clientWidth / w, st.clientHeight / h);
  view.x = view.y = 0;
  applyView();
}

function zoom(f) {
  view.scale = Math.min(8, Math.max(0.05, view.scale * f));
  applyView();
}

// Claims a photo and loads its image; resolves to the claim (or null when the queue is empty).
async function claimAndLoad() {
  const r = await PREP.call('POST', '/v1/review/claim');
  if (r.status === 204) return null;
  if (r.status !== 200) throw new Error(PREP.problemText(r.body));
  const claim = r.body;
  const blob = await fetch(claim.photo.review_url, { credentials: 'same-origin' }).then((x) => {
    if (!x.ok) throw new Error('no se pudo cargar la imagen');
    return x.blob();
  });
  claim.objectUrl = URL.createObjectURL(blob);
  return claim;
}

function fact(dl, name, value) {
  if (value === undefined || value === null || value === '') return;
  const dt = document.createElement('dt'); dt.textContent = name;
  const dd = document.createElement('dd'); dd.textContent = value;
  dl.append(dt, dd);
}

function show(claim) {
  current = claim;
  selectedGroup = null;
  const img = $('photo');
  if (!claim) {
    img.hidden = true;
    $('empty').hidden = false;
    $('empty').textContent = 'No hay actas en espera. La página tomará la siguiente en cuanto llegue.';
    $('clave').textContent = '—';
    for (const id of ['catalog', 'facts', 'group', 'history', 'flag']) $(id).replaceChildren();
    return;
  }
  $('empty').hidden = true;
  img.onload = () => { view.rot = 0; fit(); };
  img.src = claim.objectUrl;
  img.hidden = false;
  img.dataset.photoId = claim.photo_id;
  $('clave').textContent = claim.clave_acta;
  const flag = { fuera_de_catalogo: 'Fuera de catálogo', posible_correccion: 'Posible corrección: la clave ya tiene un acta aceptada' }[claim.flag];
  $('flag').replaceChildren();
  if (flag) { const s = document.createElement('span'); s.className = 'flag'; s.textContent = flag; $('flag').append(s); }
  const cat = $('catalog'); cat.replaceChildren();
  if (claim.catalog) {
    fact(cat, 'Estado', claim.catalog.state); fact(cat, 'Distrito', claim.catalog.district);
    fact(cat, 'Municipio', claim.catalog.municipality); fact(cat, 'Sección', claim.catalog.section);
    fact(cat, 'Tipo de casilla', claim.catalog.casilla_type);
    fact(cat, 'Lista nominal', claim.catalog.nominal_list);
  } else {
    fact(cat, 'Catálogo', 'sin registro');
  }
  const meta = claim.photo.metadata || {}, exif = meta.exif || {};
  const facts = $('facts'); facts.replaceChildren();
  fact(facts, 'Recibida', claim.photo.received_at);
  fact(facts, 'Tomada (EXIF)', exif.datetime_original);
  if (exif.gps && exif.gps.latitude !== undefined)
    fact(facts, 'GPS', `${exif.gps.latitude.toFixed(5)}, ${exif.gps.longitude.toFixed(5)}`);
  fact(facts, 'Cámara', [exif.make, exif.model].filter(Boolean).join(' '));
  const leg = meta.legibility || meta.quality;
  if (leg && typeof leg === 'object')
    for (const [k, v] of Object.entries(leg)) fact(facts, 'Legibilidad: ' + k, typeof v === 'number' ? v.toFixed(2) : String(v));
  fact(facts, 'SHA-256', claim.photo.sha256.slice(0, 16) + '…');
  const g = $('group'); g.replaceChildren();
  for (const o of claim.group) {
    const fig = document.createElement('figure');
    const b = document.createElement('button');
    b.type = 'button';
    b.setAttribute('aria-label', 'Seleccionar la foto ' + o.photo_id.slice(0, 8));
    if (o.review_url) { const t = document.createElement('img'); t.src = o.review_url; t.alt = ''; b.append(t); }
    b.addEventListener('click', () => {
      selectedGroup = o.photo_id;
      for (const f of g.children) f.classList.toggle('selected', f === fig);
    });
    const cap = document.createElement('figcaption');
    cap.textContent = (o.review_state || o.status) + ' · ' + o.photo_id.slice(0, 8);
    fig.append(b, cap);
    g.append(fig);
  }
  if (!claim.group.length) g.textContent = 'Ninguna.';
  const h = $('history'); h.replaceChildren();
  for (const d of claim.history) {
    const li = document.createElement('li');
    li.textContent = `${d.decision}${d.reason ? ' (' + d.reason + ')' : ''} — ${d.user}, ${d.decided_at}`;
    h.append(li);
  }
}

function prefetch() {
  next = claimAndLoad().catch(() => null);
}

let advancing = false;

async function advance() {
  if (advancing) return;
  advancing = true;
  try { await advanceNow(); } finally { advancing = false; }
}

async function advanceNow() {
  const upcoming = next;
  next = null;
  const claim = upcoming ? await upcoming : await claimAndLoad().catch((e) => { status(e.message, true); return null; });
  if (current && current.objectUrl) URL.revokeObjectURL(current.objectUrl);
  show(claim);
  if (claim) prefetch();
  else setTimeout(() => { if (!current && !busy) advance(); }, 3000);
}

async function decide(decision, extra) {
  if (!current || busy) return;
  busy = true;
  const c = current;
  const r = await PREP.call('POST', `/v1/review/${c.photo_id}/decision`,
    Object.assign({ lease_token: c.lease_token, decision }, extra || {}));
  busy = false;
  if (r.status === 200) {
    status(`Registrado: ${decision}${extra && extra.reason ? ' (' + extra.reason + ')' : ''} · ${c.clave_acta}`);
    await advance();
  } else {
    status(PREP.problemText(r.body), true);
    if (r.status === 409) await advance();
  }
}

async function release(claim) {
  if (claim) await PREP.call('POST', `/v1/review/${claim.photo_id}/release`, { lease_token: claim.lease_token });
}

function bind() {
  for (const b of document.querySelectorAll('[data-decision]')) {
    b.addEventListener('click', () => {
      const d = b.dataset.decision;
      if (d === 'duplicate') {
        if (!selectedGroup) { status('Selecciona primero la foto original en «Otras fotos».', true); return; }
        decide('duplicate', { duplicate_of: selectedGroup });
      } else decide(d);
    });
  }
  for (const b of document.querySelectorAll('[data-reason]'))
    b.addEventListener('click', () => decide('reject', { reason: b.dataset.reason }));
  $('skip').addEventListener('click', async () => { const c = current; current = null; await release(c); await advance(); });
  $('zoom-in').addEventListener('click', () => zoom(1.25));
  $('zoom-out').addEventListener('click', () => zoom(0.8));
  $('rotate').addEventListener('click', () => { view.rot = (view.rot + 90) % 360; applyView(); });
  $('reset').addEventListener('click', () => { view.rot = 0; $('contrast').value = 100; $('brightness').value = 100; fit(); });
  $('contrast').addEventListener('input', applyView);
  $('brightness').addEventListener('input', applyView);
  const st = $('stage');
  st.addEventListener('wheel', (e) => { e.preventDefault(); zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15); }, { passive: false });
  let drag = null;
  st.addEventListener('pointerdown', (e) => { if (e.target.closest('.tools')) return; drag = { x: e.clientX - view.x, y: e.clientY - view.y }; st.classList.add('dragging'); st.setPointerCapture(e.pointerId); });
  st.addEventListener('pointermove', (e) => { if (drag) { view.x = e.clientX - drag.x; view.y = e.clientY - drag.y; applyView(); } });
  st.addEventListener('pointerup', () => { drag = null; st.classList.remove('dragging'); });
  document.addEventListener('keydown', (e) => {
    if (e.target.tagName === 'INPUT' || e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key.toLowerCase();
    const act = {
      '+': () => zoom(1.25), '=': () => zoom(1.25), '-': () => zoom(0.8),
      r: () => { view.rot = (view.rot + 90) % 360; applyView(); }, 0: () => $('reset').click(),
      arrowleft: () => { view.x += 60; applyView(); }, arrowright: () => { view.x -= 60; applyView(); },
      arrowup: () => { view.y += 60; applyView(); }, arrowdown: () => { view.y -= 60; applyView(); },
      a: () => decide('accept'), t: () => decide('retake'),
      d: () => document.querySelector('[data-decision=duplicate]').click(), s: () => $('skip').click(),
    }[k] || (REASONS[k] ? () => decide('reject', { reason: REASONS[k] }) : null);
    if (act) { e.preventDefault(); act(); }
  });
  // Leaving the page hands both photos back at once instead of waiting for the lease.
  window.addEventListener('pagehide', () => {
    for (const c of [current]) if (c) navigator.sendBeacon && fetch(`/v1/review/${c.photo_id}/release`, {
      method: 'POST', keepalive: true, credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': PREP.session.csrf_token },
      body: JSON.stringify({ lease_token: c.lease_token }) });
    if (next) next.then((c) => c && fetch(`/v1/review/${c.photo_id}/release`, {
      method: 'POST', keepalive: true, credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': PREP.session.csrf_token },
      body: JSON.stringify({ lease_token: c.lease_token }) }));
  });
  window.addEventListener('resize', fit);
}

(async () => {
  await PREP.requireSession(['clerk', 'supervisor', 'admin']);
  bind();
  PREP.counters((c) => { PREP.showCounts(c); if (!current && !busy && !advancing && c.waiting > 0) advance(); });
  await advance();
})();
