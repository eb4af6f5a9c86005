// PREP casilla, the officials' app: enrol, choose the acta, photograph with hints, send through
// the queue (store.js) and follow each photo until a clerk accepts it or asks for another.
import * as store from './store.js';
import { measure, hints, readQr } from './hints.js';

const $ = (id) => document.getElementById(id);

const T = {
  es: {
    title: 'PREP casilla', night: 'Noche', day: 'Día', enrol_title: 'Registrar este teléfono',
    enrol_help: 'Escriba el código que le dio el operador o abra el enlace del código QR.',
    code: 'Código de registro', phone_label: 'Nombre del teléfono (opcional)', enrol_button: 'Registrar',
    clave: 'Acta de la casilla', take: 'Tomar foto del acta', photos: 'Mis fotos',
    no_photos: 'Todavía no hay fotos.', frame_help: 'Ponga toda el acta dentro del marco, con buena luz.',
    shoot: 'Tomar', file: 'Usar la cámara del teléfono', cancel: 'Cancelar', again: 'Otra vez',
    send: 'Enviar', online: 'Con señal', offline: 'Sin señal',
    enrolling: 'Registrando…', enrolled: 'Teléfono registrado.',
    code_used: 'Este código ya se usó, venció o no existe. Pida un código nuevo al operador.',
    key_taken: 'Este teléfono ya está registrado.', no_net: 'Sin señal: inténtelo cuando tenga señal.',
    no_ed25519: 'Este navegador no puede firmar las fotos (le falta Ed25519 en WebCrypto). Use Chrome 137 o más nuevo.',
    fallback: 'Este navegador no tiene Ed25519 en WebCrypto: las fotos se firman con',
    device: 'Teléfono', actas_of: 'actas', no_camera: 'No se pudo abrir la cámara: use la cámara del teléfono.',
    dark: 'La foto está muy oscura: busque más luz.', blurry: 'La foto está borrosa: detenga el teléfono y enfoque.',
    small_sheet: 'El acta no llena el marco: acérquese.', qr_mismatch: 'El código QR es de otra acta: revise cuál eligió.',
    good: 'La foto se ve bien.',
    s_queued: 'En cola', s_waiting: 'Esperando señal', s_sending: 'Enviando', s_received: 'Recibida: acuse verificado',
    s_unverified: 'El acuse no se pudo verificar', s_refused: 'No se aceptó', s_processed: 'Procesada',
    s_accepted: 'Aceptada', s_retake: 'Piden otra foto', retake_btn: 'Tomar otra foto',
    retake_of: 'Reemplaza a una foto anterior', bad_clave: 'Esa acta no es de este teléfono.',
    r_ilegible: 'el acta no se puede leer (ilegible)', r_sin_acta: 'no se ve el acta',
    r_no_es_acta: 'la foto no es de un acta', r_acta_equivocada: 'es el acta de otra casilla',
    r_incompleta: 'el acta no se ve completa', r_retake: 'tome la foto otra vez',
  },
  en: {
    title: 'PREP casilla', night: 'Night', day: 'Day', enrol_title: 'Enrol this phone',
    enrol_help: 'Type the code the operator gave you, or open the link of the QR code.',
    code: 'Enrolment code', phone_label: 'Phone name (optional)', enrol_button: 'Enrol',
    clave: 'Polling station sheet', take: 'Photograph the sheet', photos: 'My photos',
    no_photos: 'No photos yet.', frame_help: 'Put the whole sheet inside the frame, in good light.',
    shoot: 'Shoot', file: "Use the phone's camera", cancel: 'Cancel', again: 'Again',
    send: 'Send', online: 'Online', offline: 'No signal',
    enrolling: 'Enrolling…', enrolled: 'Phone enrolled.',
    code_used: 'This code was used already, expired or does not exist. Ask the operator for a new one.',
    key_taken: 'This phone is enrolled already.', no_net: 'No signal: try again when you have signal.',
    no_ed25519: 'This browser cannot sign the photos (no Ed25519 in WebCrypto). Use Chrome 137 or newer.',
    fallback: 'This browser has no Ed25519 in WebCrypto: photos are signed with',
    device: 'Phone', actas_of: 'sheets', no_camera: "The camera did not open: use the phone's camera.",
    dark: 'The photo is too dark: find more light.', blurry: 'The photo is blurred: hold still and focus.',
    small_sheet: 'The sheet does not fill the frame: come closer.', qr_mismatch: 'The QR code is of another sheet: check your choice.',
    good: 'The photo looks fine.',
    s_queued: 'Queued', s_waiting: 'Waiting for signal', s_sending: 'Sending', s_received: 'Received: receipt verified',
    s_unverified: 'The receipt did not verify', s_refused: 'Not accepted', s_processed: 'Processed',
    s_accepted: 'Accepted', s_retake: 'A new photo is requested', retake_btn: 'Take another photo',
    retake_of: 'Replaces an earlier photo', bad_clave: 'That sheet is not one of this phone.',
    r_ilegible: 'the sheet cannot be read (illegible)', r_sin_acta: 'no sheet can be seen',
    r_no_es_acta: 'the photo is not of a sheet', r_acta_equivocada: 'it is the sheet of another station',
    r_incompleta: 'the sheet is not complete', r_retake: 'take the photo again',
  },
};
let lang = localStorage.getItem('prep-lang') || 'es';
const t = (k) => T[lang][k] || T.es[k] || k;

const ui = { device: null, server: {}, shot: null, retakeOf: null, stream: null, retry: 1000, timer: null };

function show(screen) {
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== 's-' + screen;
  document.body.dataset.screen = screen;
  if (screen !== 'camera') stopCamera();
}

function translate() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  $('lang').textContent = lang === 'es' ? 'English' : 'Español';
  $('lang').lang = lang === 'es' ? 'en' : 'es';
  $('theme').textContent = document.body.classList.contains('night') ? t('day') : t('night');
  netState();
}

function netState() {
  document.body.classList.toggle('offline', !navigator.onLine);
  $('net').textContent = navigator.onLine ? t('online') : t('offline');
}

// --- enrolment -------------------------------------------------------------------------------

async function enrol() {
  const msg = $('enrol-msg');
  msg.className = 'msg';
  const kp = await store.newKeyPair();
  if (!kp) {
    msg.textContent = t('no_ed25519');
    msg.className = 'msg bad';
    return;
  }
  msg.textContent = t('enrolling');
  const { keyPair, seed, lib, publicKey } = kp;
  let r;
  try {
    r = await fetch('/v1/devices', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: $('code').value.trim(), public_key: publicKey, label: $('label').value.trim() || 'app' }),
    });
  } catch (e) {
    msg.textContent = t('no_net');
    msg.className = 'msg bad';
    return;
  }
  const j = await r.json().catch(() => ({}));
  if (r.status !== 201) {
    msg.textContent = r.status === 403 ? t('code_used') : r.status === 409 ? t('key_taken') : `${j.title || r.status}: ${j.detail || ''}`;
    msg.className = 'msg bad';
    msg.dataset.type = (j.type || '').split('/').pop();
    return;
  }
  await store.putDevice({ device_id: j.device_id, label: j.label, actas: j.actas, enrolled_at: j.enrolled_at,
    gateway_key: j.gateway_key, keyPair, seed, lib, public_key: publicKey });
  history.replaceState(null, '', location.pathname);
  msg.textContent = t('enrolled');
  await home();
}

// --- home: the acta and the list ---------------------------------------------------------------

async function home() {
  ui.device = await store.getDevice();
  if (!ui.device) {
    const m = /[#&]enrol=([A-Za-z0-9-]+)/.exec(location.hash);
    if (m) $('code').value = m[1];
    show('enrol');
    // Said before enrolling: which Ed25519 signs, or that none can.
    if (!(await store.hasEd25519())) {
      const lib = await store.fallback();
      $('enrol-msg').textContent = lib ? `${t('fallback')} ${store.FALLBACK}.` : t('no_ed25519');
      $('enrol-msg').className = 'msg bad';
      $('enrol-msg').dataset.crypto = lib ? 'fallback' : 'none';
      $('enrol').disabled = !lib;
    }
    return;
  }
  $('who').textContent = `${t('device')} ${ui.device.label} · ${t('actas_of')} ${ui.device.actas}`;
  const sel = $('clave');
  if (!sel.options.length) {
    const items = ui.device.actas.split(',');
    for (const a of items) {
      const o = document.createElement('option');
      o.value = a;
      o.textContent = a.endsWith('*') ? `${a.slice(0, -1)}…` : a;
      sel.append(o);
    }
    sel.onchange = () => { $('clave-typed').hidden = !sel.value.endsWith('*'); };
    sel.onchange();
  }
  show('home');
  await render();
  kick();
  refreshServer();
}

function chosenClave() {
  const v = $('clave').value;
  if (!v.endsWith('*')) return v;
  const typed = $('clave-typed').value.trim().toUpperCase();
  return /^[0-9]{6}[BCESV][0-9]{5,6}$/.test(typed) && typed.startsWith(v.slice(0, -1)) ? typed : null;
}

const REASONS = { ilegible: 1, sin_acta: 1, no_es_acta: 1, acta_equivocada: 1, incompleta: 1 };

// What to tell the official about photo |p|: the queue's state until the receipt verified, then
// what the gateway says (processed, accepted, or a clerk's request for another photo).
function stateOf(p) {
  const s = p.photo_id && ui.server[p.photo_id];
  if (p.state !== 'received' || !s) return { state: p.state };
  const v = s.verification;
  if (v && (v.state === 'retake' || v.state === 'rejected')) {
    const why = REASONS[v.reason] ? t('r_' + v.reason) : t('r_retake');
    return { state: 'retake', why: why + (v.note ? ` — ${v.note}` : '') };
  }
  if (v && v.state === 'accepted') return { state: 'accepted' };
  if (s.status === 'queued') return { state: 'processed' };
  return { state: 'received' };
}

async function render() {
  const photos = (await store.listPhotos()).sort((a, b) => b.local_id - a.local_id);
  const ol = $('photos');
  ol.textContent = '';
  $('empty').hidden = photos.length > 0;
  for (const p of photos) {
    const st = stateOf(p);
    const li = document.createElement('li');
    li.dataset.localId = p.local_id;
    li.dataset.state = st.state;
    if (p.photo_id) li.dataset.photoId = p.photo_id;
    const what = document.createElement('div');
    what.className = 'what';
    const pct = p.size ? Math.floor((100 * p.offset) / p.size) : 0;
    what.textContent = t('s_' + st.state) + (st.state === 'sending' ? ` ${pct} %` : '');
    li.dataset.percent = pct;
    const sub = document.createElement('div');
    sub.textContent = `${p.clave} · ${new Date(p.created).toLocaleTimeString(lang === 'es' ? 'es-MX' : 'en-US')}`;
    li.append(what, sub);
    if (st.state === 'sending' || st.state === 'waiting' || st.state === 'queued') {
      const bar = document.createElement('div');
      bar.className = 'bar';
      const i = document.createElement('i');
      i.style.width = `${pct}%`;
      bar.append(i);
      li.append(bar);
    }
    const srv = p.photo_id && ui.server[p.photo_id];
    if (srv && srv.retake_of) {
      const r = document.createElement('div');
      r.className = 'msg';
      r.textContent = t('retake_of');
      li.dataset.retakeOf = srv.retake_of;
      li.append(r);
    }
    if (p.error && (st.state === 'refused' || st.state === 'unverified')) {
      const e = document.createElement('div');
      e.className = 'msg bad';
      e.textContent = p.error;
      li.append(e);
    }
    if (st.state === 'retake') {
      const e = document.createElement('div');
      e.className = 'msg bad why';
      e.textContent = st.why;
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'big retake';
      b.textContent = t('retake_btn');
      b.onclick = () => startCamera(p.clave, p.photo_id);
      li.append(e, b);
    }
    ol.append(li);
  }
}

// --- sending -------------------------------------------------------------------------------

// Sends the queue now; when the signal is gone, asks for a Background Sync and tries again on
// 'online' and on a timer (1 s doubling to 60 s).
async function kick() {
  clearTimeout(ui.timer);
  let res;
  try {
    res = await store.drain(() => render());
  } catch (e) {
    res = 'offline';
  }
  await render();
  const left = (await store.listPhotos()).some((p) => ['queued', 'waiting', 'sending'].includes(p.state));
  if (res === 'done' && !left) {
    ui.retry = 1000;
    return;
  }
  try {
    const reg = await navigator.serviceWorker?.ready;
    if (reg && reg.sync) await reg.sync.register('prep-send');
  } catch (e) { /* no Background Sync here: the timer does it */ }
  ui.timer = setTimeout(kick, ui.retry);
  ui.retry = Math.min(ui.retry * 2, 60000);
}

async function refreshServer() {
  if (!ui.device || !navigator.onLine) return;
  try {
    const j = await store.serverStates(ui.device);
    ui.server = Object.fromEntries(j.photos.map((p) => [p.photo_id, p]));
    await render();
  } catch (e) { /* no signal: next round */ }
}

// --- camera and preview ------------------------------------------------------------------------

function stopCamera() {
  if (ui.stream) for (const tr of ui.stream.getTracks()) tr.stop();
  ui.stream = null;
}

async function startCamera(clave, retakeOf) {
  clave = clave || chosenClave();
  $('take-msg').textContent = clave ? '' : t('bad_clave');
  if (!clave) return;
  ui.clave = clave;
  ui.retakeOf = retakeOf || null;
  $('cam-clave').textContent = clave;
  show('camera');
  document.body.dataset.camera = 'asking';
  try {
    ui.stream = await navigator.mediaDevices.getUserMedia({
      audio: false, video: { facingMode: { ideal: 'environment' }, width: { ideal: 1920 }, height: { ideal: 1440 } },
    });
    $('video').srcObject = ui.stream;
    await $('video').play();
    document.body.dataset.camera = 'on';
  } catch (e) {
    document.body.dataset.camera = 'off';
    document.body.dataset.cameraError = `${e.name}: ${e.message}`;
    $('shoot').hidden = true;
    $('cam-clave').textContent = `${clave} — ${t('no_camera')}`;
  }
}

async function preview(blob, source, w, h) {
  const m = measure(source, w, h);
  const qr = await readQr(source);
  const hs = hints(m, ui.clave, qr);
  ui.shot = blob;
  if ($('shot').src) URL.revokeObjectURL($('shot').src);
  $('shot').src = URL.createObjectURL(blob);
  const ul = $('hints');
  ul.textContent = '';
  for (const h of hs.length ? hs : ['good']) {
    const li = document.createElement('li');
    li.textContent = t(h);
    li.dataset.hint = h;
    if (h === 'good') li.className = 'good';
    ul.append(li);
  }
  document.body.dataset.hints = hs.join(',');
  document.body.dataset.measures = JSON.stringify({ luma: +m.luma.toFixed(1), focus: +m.focus.toFixed(1), fill: +m.fill.toFixed(3) });
  show('preview');
}

async function shoot() {
  const v = $('video');
  const c = document.createElement('canvas');
  c.width = v.videoWidth;
  c.height = v.videoHeight;
  c.getContext('2d').drawImage(v, 0, 0);
  const blob = await new Promise((r) => c.toBlob(r, 'image/jpeg', 0.92));
  await preview(blob, c, c.width, c.height);
}

async function fromFile() {
  const f = $('file').files[0];
  $('file').value = '';
  if (!f) return;
  const bmp = await createImageBitmap(f);
  await preview(f, bmp, bmp.width, bmp.height);
}

async function send() {
  const blob = ui.shot;
  ui.shot = null;
  // Stored first (IndexedDB, committed), sent after: a closed tab loses nothing.
  await store.enqueue(ui.clave, blob, (document.body.dataset.hints || '').split(',').filter(Boolean), ui.retakeOf);
  show('home');
  await render();
  ui.retry = 1000;
  kick();
}

// --- start ---------------------------------------------------------------------------------

function wire() {
  $('enrol').onclick = enrol;
  $('take').onclick = () => startCamera();
  $('shoot').onclick = shoot;
  $('file').onchange = fromFile;
  $('cancel').onclick = () => show('home');
  $('again').onclick = () => startCamera(ui.clave, ui.retakeOf);
  $('send').onclick = send;
  $('lang').onclick = () => {
    lang = lang === 'es' ? 'en' : 'es';
    localStorage.setItem('prep-lang', lang);
    translate();
    render();
  };
  $('theme').onclick = () => {
    document.body.classList.toggle('night');
    localStorage.setItem('prep-night', document.body.classList.contains('night') ? '1' : '');
    translate();
  };
  if (localStorage.getItem('prep-night')) document.body.classList.add('night');
  addEventListener('online', () => { netState(); ui.retry = 1000; kick(); refreshServer(); });
  addEventListener('offline', netState);
  navigator.serviceWorker?.addEventListener('message', (e) => {
    if (e.data && e.data.type === 'send-now') {
      ui.retry = 1000;
      kick();
    }
  });
  setInterval(refreshServer, 4000);
}

wire();
translate();
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('sw.js', { type: 'module', scope: './' }).catch(() => {});
}
home().then(() => { document.body.dataset.ready = '1'; });
