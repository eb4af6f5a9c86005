// The capture page: one claimed acta on screen, its review image beside a keyboard-only form of
// the acta's fields in the acta's order (from the claim), a final review of the sum against the
// total written, then the figures with the lease token and the next claim. With ?modo=disputa a
// supervisor makes the deciding capture of an acta in dispute: the fields where the two blind
// captures differ are marked, never their values (the claim carries none, and this page asks
// for nothing but the claim, its image and the operations on its lease).
'use strict';

const $ = (id) => document.getElementById(id);
const DISPUTE = new URLSearchParams(location.search).get('modo') === 'disputa';
const MAX = 100000;      // the API's largest figure
const DIGITS = 6;
const MARKS = { ilegible: 'ilegible', sin_dato: 'en blanco' };
const view = { scale: 1, x: 0, y: 0 };
let current = null;      // the claim on screen
let inputs = [];         // its fields' inputs, in the acta's order
let busy = false;        // a request on the current lease is in flight
let claiming = false;
let retry = null;        // the timer of the next claim while nothing waits
let done = 0;
let returnFrom = null;   // the element focused before the send-back box opened

function status(text, error) {
  $('status').textContent = text;
  $('status').classList.toggle('error', !!error);
}

// The page's step, for the keyboard handler (and for the tests): empty, typing, final, return,
// sending.
function setMode(m) {
  document.body.dataset.mode = m;
}

function mode() {
  return document.body.dataset.mode;
}

// --- the image -------------------------------------------------------------------------------

function applyView() {
  const img = $('photo');
  img.style.transform = `translate(-50%, -50%) translate(${view.x}px, ${view.y}px) scale(${view.scale})`;
  $('zoom-level').textContent = Math.round(view.scale * 100) + '%';
  img.dataset.scale = view.scale.toFixed(2);
  img.dataset.x = String(view.x);
  img.dataset.y = String(view.y);
}

function fit() {
  const img = $('photo'), st = $('stage');
  if (!img.naturalWidth) return;
  view.scale = Math.min(st.clientWidth / img.naturalWidth, st.clientHeight / img.naturalHeight);
  view.x = view.y = 0;
  applyView();
}

function zoom(f) {
  view.scale = Math.min(8, Math.max(0.05, view.scale * f));
  applyView();
}

function pan(dx, dy) {
  view.x += dx;
  view.y += dy;
  applyView();
}

// --- claims ------------------------------------------------------------------------------------

// Claims the next acta and loads its image; resolves to the claim, or null when none waits.
async function claimAndLoad() {
  const r = await PREP.call('POST', DISPUTE ? '/v1/capture/disputes/claim' : '/v1/capture/claim');
  if (r.status === 204) return null;
  if (r.status !== 200) throw new Error(PREP.problemText(r.body));
  const claim = r.body;
  const x = await fetch(claim.review_url, { credentials: 'same-origin' }).catch(() => null);
  if (!x || !x.ok) {
    await release(claim);
    throw new Error('No se pudo cargar la imagen del acta ' + claim.clave_acta + '; se liberó.');
  }
  claim.objectUrl = URL.createObjectURL(await x.blob());
  return claim;
}

function fieldRow(f, i, disputed) {
  const li = document.createElement('li');
  li.className = 'field' + (disputed ? ' disputed' : '') + (f.kind === 'total' ? ' total' : '');
  li.dataset.field = f.id;
  const label = document.createElement('label');
  label.htmlFor = 'f-' + f.id;
  const n = document.createElement('span');
  n.className = 'n';
  n.textContent = String(i + 1);
  label.append(n, ' ', f.label);
  const inp = document.createElement('input');
  inp.id = 'f-' + f.id;
  inp.dataset.field = f.id;
  inp.dataset.kind = f.kind;
  inp.dataset.mark = '';
  inp.inputMode = 'numeric';
  inp.autocomplete = 'off';
  inp.spellcheck = false;
  inp.maxLength = 9; // "en blanco"
  li.append(label, inp);
  if (disputed) {
    const b = document.createElement('span');
    b.className = 'badge';
    b.textContent = 'difiere';
    li.append(b);
    inp.setAttribute('aria-description', 'las dos capturas difieren en este campo');
  }
  return li;
}

function show(claim) {
  current = claim;
  const img = $('photo'), list = $('field-list');
  $('final').hidden = true;
  $('return-box').hidden = true;
  if (!claim) {
    img.hidden = true;
    img.removeAttribute('src');
    delete img.dataset.photoId;
    $('empty').hidden = false;
    $('empty').textContent = DISPUTE ? 'No hay actas en disputa. La página tomará la siguiente en cuanto llegue.'
      : 'No hay actas para capturar. La página tomará la siguiente en cuanto llegue.';
    $('clave').textContent = '—';
    $('acta-type').textContent = '';
    $('dispute-note').hidden = true;
    list.replaceChildren();
    inputs = [];
    setMode('empty');
    return;
  }
  $('empty').hidden = true;
  img.onload = fit;
  img.src = claim.objectUrl;
  img.hidden = false;
  img.dataset.photoId = claim.photo_id;
  $('clave').textContent = claim.clave_acta;
  $('acta-type').textContent = `${claim.acta_type_name} (tipo ${claim.acta_type}) · ronda ${claim.round}` +
    (claim.kind === 'supervisor' ? ' · captura que decide' : ' · captura ciega') +
    ` · reservada hasta las ${new Date(claim.lease_expires).toLocaleTimeString('es-MX')}`;
  const disputed = new Set(claim.disputed_fields || []);
  const note = $('dispute-note');
  note.hidden = claim.kind !== 'supervisor';
  if (claim.kind === 'supervisor') {
    note.textContent = `Las dos capturas difieren en ${disputed.size} campo${disputed.size === 1 ? '' : 's'}` +
      ' (marcados «difiere»). Captura el acta completa: tu captura decide.';
  }
  list.replaceChildren(...claim.fields.map((f, i) => fieldRow(f, i, disputed.has(f.id))));
  inputs = [...list.querySelectorAll('input')];
  claim.shownAt = performance.now();
  setMode('typing');
  focusField(inputs[0]);
}

async function next() {
  if (claiming) return;
  claiming = true;
  clearTimeout(retry);
  try {
    if (current && current.objectUrl) URL.revokeObjectURL(current.objectUrl);
    current = null;
    let claim = null;
    try {
      claim = await claimAndLoad();
    } catch (e) {
      status(e.message, true);
    }
    show(claim);
    // Capturists have no live events (those are the clerks'): look again in a while.
    if (!claim) retry = setTimeout(next, 3000);
  } finally {
    claiming = false;
  }
}

// Hands the lease back so that someone else can capture the acta now rather than when it ends.
function release(claim, keepalive) {
  if (!claim) return Promise.resolve();
  return fetch(`/v1/capture/${claim.photo_id}/release`, {
    method: 'POST', keepalive: !!keepalive, credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': PREP.session.csrf_token },
    body: JSON.stringify({ lease_token: claim.lease_token }),
  }).catch(() => null);
}

// --- the fields --------------------------------------------------------------------------------

function setMark(inp, m) {
  inp.dataset.mark = m;
  inp.value = m ? MARKS[m] : '';
  inp.closest('li').classList.toggle('marked', !!m);
  inp.select();
}

function focusField(inp) {
  inp.focus();
  inp.select();
  inp.closest('li').scrollIntoView({ block: 'nearest' });
}

// A field's figure as the API takes it: a number, "ilegible", "sin_dato", or null when empty.
function figure(inp) {
  if (inp.dataset.mark) return inp.dataset.mark;
  return inp.value === '' ? null : Number(inp.value);
}

function move(inp, d) {
  const i = inputs.indexOf(inp) + d;
  if (i < 0) return;
  if (i >= inputs.length) openFinal();
  else focusField(inputs[i]);
}

function fieldKey(e, inp) {
  const k = e.key;
  if (k === 'Enter' || k === 'Tab') {
    e.preventDefault();
    move(inp, e.shiftKey ? -1 : 1);
  } else if (/^[0-9]$/.test(k)) {
    // A digit replaces a mark; the browser then inserts it as usual.
    if (inp.dataset.mark) setMark(inp, '');
    else if (inp.value.length >= DIGITS && inp.selectionStart === inp.selectionEnd) e.preventDefault();
  } else if (k === 'i' || k === 'I') {
    e.preventDefault();
    setMark(inp, 'ilegible');
  } else if (k === 'b' || k === 'B') {
    e.preventDefault();
    setMark(inp, 'sin_dato');
  } else if (k === 'Backspace' || k === 'Delete') {
    if (inp.dataset.mark) {
      e.preventDefault();
      setMark(inp, '');
    }
  } else if (k.length === 1) {
    e.preventDefault(); // nothing but digits in a figure
  }
}

// --- the final review and the submission -------------------------------------------------------

function fact(dl, name, value, cls) {
  const dt = document.createElement('dt');
  dt.textContent = name;
  const dd = document.createElement('dd');
  dd.textContent = value;
  if (cls) dd.className = cls;
  dl.append(dt, dd);
}

function fmt(v) {
  return typeof v === 'number' ? v.toLocaleString('es-MX') : MARKS[v];
}

function openFinal() {
  const c = current;
  const figures = {};
  let sum = 0, total = null;
  const illegible = [], blank = [];
  for (const [i, inp] of inputs.entries()) {
    const v = figure(inp), f = c.fields[i];
    if (v === null || (typeof v === 'number' && v > MAX)) {
      status(v === null ? `Falta la cifra de «${f.label}»: escribe el número, I (ilegible) o B (en blanco).`
        : `«${f.label}»: ${v} pasa del máximo (${MAX.toLocaleString('es-MX')}).`, true);
      focusField(inp);
      return;
    }
    figures[f.id] = v;
    if (v === 'ilegible') illegible.push(f.label);
    if (v === 'sin_dato') blank.push(f.label);
    if (f.kind === 'total') total = v;
    else if (typeof v === 'number') sum += v;
  }
  c.figures = figures;
  const dl = $('final-facts');
  dl.replaceChildren();
  fact(dl, 'Suma de los votos', sum.toLocaleString('es-MX'));
  fact(dl, 'Total escrito en el acta', total === null ? '—' : fmt(total));
  const verdict = $('final-verdict');
  verdict.className = 'verdict';
  if (typeof total === 'number' && total === sum) {
    verdict.textContent = 'La suma coincide con el total escrito.';
    verdict.classList.add('ok');
  } else if (typeof total === 'number') {
    fact(dl, 'Diferencia', (total - sum).toLocaleString('es-MX'), 'warn');
    verdict.textContent = `La suma (${sum.toLocaleString('es-MX')}) no coincide con el total escrito ` +
      `(${total.toLocaleString('es-MX')}): diferencia de ${Math.abs(total - sum).toLocaleString('es-MX')}.` +
      ' Revisa las cifras; si el acta dice eso, envía así.';
    verdict.classList.add('warn');
  } else {
    verdict.textContent = 'El total no se puede leer en el acta: cuenta la suma.';
    verdict.classList.add('warn');
  }
  if (illegible.length) fact(dl, 'Ilegibles', illegible.join(', '));
  if (blank.length) fact(dl, 'En blanco', blank.join(', '));
  status('');
  $('final').hidden = false;
  setMode('final');
  $('send').focus();
  $('final').scrollIntoView({ block: 'nearest' });
}

function closeFinal() {
  $('final').hidden = true;
  setMode('typing');
  focusField(inputs[inputs.length - 1]);
}

const STATES = {
  pending: 'queda pendiente de la segunda captura',
  captured: 'coincide con la otra captura: acta capturada',
  in_dispute: 'no coincide con la otra captura: pasa a un supervisor',
};

async function submit() {
  const c = current;
  if (!c || busy || mode() !== 'final') return;
  busy = true;
  setMode('sending');
  status('Enviando…');
  let r;
  try {
    r = await PREP.call('POST', `/v1/capture/${c.photo_id}/figures`,
      { lease_token: c.lease_token, figures: c.figures });
  } catch (e) {
    r = null;
  } finally {
    busy = false;
  }
  if (!r) {
    status('No se pudo enviar (¿red?): Enter para reintentar.', true);
    setMode('final');
    return;
  }
  if (r.status === 200) {
    const secs = (performance.now() - c.shownAt) / 1000;
    done++;
    $('done').textContent = String(done);
    document.body.dataset.lastState = r.body.state;
    document.body.dataset.lastSeconds = secs.toFixed(2);
    const ch = r.body.checks || {};
    const state = c.kind === 'supervisor' ? 'tu captura decide: acta capturada' : STATES[r.body.state] || r.body.state;
    status(`Registrada ${c.clave_acta} en ${secs.toFixed(1)} s: ${state}` +
      (ch.contabilizada === false ? ` · no contabilizada (${ch.reason})` : '') + '.');
    await next();
  } else if (r.status === 422) {
    status(PREP.problemText(r.body), true);
    closeFinal();
  } else if (r.status === 409 || r.status === 404) {
    status(PREP.problemText(r.body) + ' Se toma la siguiente acta.', true);
    await next();
  } else {
    status(PREP.problemText(r.body) + ' Enter para reintentar.', true);
    setMode('final');
  }
}

// --- send back as illegible --------------------------------------------------------------------

function openReturn() {
  if (!current || busy || mode() === 'return' || mode() === 'sending') return;
  returnFrom = { el: document.activeElement, mode: mode() };
  $('return-box').hidden = false;
  $('return-note').value = '';
  setMode('return');
  $('return-note').focus();
}

function closeReturn() {
  $('return-box').hidden = true;
  setMode(returnFrom.mode);
  if (returnFrom.el && returnFrom.el.focus) returnFrom.el.focus();
}

async function confirmReturn() {
  const c = current;
  if (!c || busy) return;
  busy = true;
  setMode('sending');
  const note = $('return-note').value.trim();
  const body = { lease_token: c.lease_token };
  if (note) body.note = note;
  const r = await PREP.call('POST', `/v1/capture/${c.photo_id}/illegible`, body).catch(() => null);
  busy = false;
  if (r && r.status === 200) {
    status(`Devuelta a verificación como ilegible: ${c.clave_acta}.`);
    await next();
  } else if (r && (r.status === 409 || r.status === 404)) {
    status(PREP.problemText(r.body) + ' Se toma la siguiente acta.', true);
    await next();
  } else {
    status(r ? PREP.problemText(r.body) : 'No se pudo enviar (¿red?).', true);
    setMode('return');
    $('return-note').focus();
  }
}

// --- the keyboard ------------------------------------------------------------------------------

const PAN = 80;

function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const m = mode(), k = e.key;
  if (m === 'return') {
    if (k === 'Enter') { e.preventDefault(); confirmReturn(); }
    else if (k === 'Escape') { e.preventDefault(); closeReturn(); }
    return; // the note takes every other key
  }
  if (m === 'sending') { e.preventDefault(); return; }
  const image = {
    '+': () => zoom(1.25), '=': () => zoom(1.25), '-': () => zoom(0.8), '*': fit,
    ArrowLeft: () => pan(PAN, 0), ArrowRight: () => pan(-PAN, 0),
    ArrowUp: () => pan(0, PAN), ArrowDown: () => pan(0, -PAN),
  }[k];
  if (image && current) { e.preventDefault(); image(); return; }
  if (k === 'F2') { e.preventDefault(); openReturn(); return; }
  if (m === 'final') {
    if (k === 'Enter') { e.preventDefault(); submit(); }
    else if (k === 'Escape' || (k === 'Tab' && e.shiftKey)) { e.preventDefault(); closeFinal(); }
    else if (k === 'Tab') e.preventDefault();
    return;
  }
  if (m === 'typing') {
    const inp = e.target && e.target.dataset && e.target.dataset.field ? e.target : null;
    if (inp) fieldKey(e, inp);
    else if (k === 'Enter' || k === 'Tab') { e.preventDefault(); focusField(inputs[0]); }
  }
}

function bind() {
  document.addEventListener('keydown', onKey);
  $('fields').addEventListener('input', (e) => {
    const inp = e.target;
    if (inp.dataset.field && !inp.dataset.mark) inp.value = inp.value.replace(/\D/g, '').slice(0, DIGITS);
  });
  $('fields').addEventListener('submit', (e) => e.preventDefault());
  $('send').addEventListener('click', submit);
  $('zoom-in').addEventListener('click', () => zoom(1.25));
  $('zoom-out').addEventListener('click', () => zoom(0.8));
  $('reset').addEventListener('click', fit);
  const st = $('stage');
  st.addEventListener('wheel', (e) => { e.preventDefault(); zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15); }, { passive: false });
  let drag = null;
  st.addEventListener('pointerdown', (e) => {
    if (e.target.closest('.tools')) return;
    drag = { x: e.clientX - view.x, y: e.clientY - view.y };
    st.classList.add('dragging');
    st.setPointerCapture(e.pointerId);
  });
  st.addEventListener('pointermove', (e) => { if (drag) { view.x = e.clientX - drag.x; view.y = e.clientY - drag.y; applyView(); } });
  st.addEventListener('pointerup', () => { drag = null; st.classList.remove('dragging'); });
  window.addEventListener('resize', fit);
  // Leaving the page (or logging out) hands the acta back at once instead of when its lease ends.
  window.addEventListener('pagehide', () => { const c = current; current = null; release(c, true); });
  PREP.beforeLogout = async () => { const c = current; current = null; await release(c); };
}

(async () => {
  const s = await PREP.requireSession(['capturist', 'supervisor', 'admin']);
  if (DISPUTE && s.role === 'capturist') {
    location.replace('/capture/');
    return;
  }
  if (DISPUTE) {
    $('title').textContent = 'PREP · Disputas de captura';
    document.title = 'Disputas — PREP';
    $('nav-dispute').setAttribute('aria-current', 'page');
  } else {
    $('nav-blind').setAttribute('aria-current', 'page');
  }
  bind();
  await next();
})();
