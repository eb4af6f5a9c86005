// The phone's side of PREP casilla: the device key, the photo queue in IndexedDB, and the sender.
// Shared by the page (app.js) and the service worker (sw.js), which both run drain(); a Web Lock
// makes sure only one of them sends at a time, so a photo is never sent twice at once.
//
// Guarantees (docs/app.md): a photo is written to IndexedDB before anything is sent; every
// request that creates an upload is signed exactly as prep-upload signs (RFC 9421, Ed25519,
// "@method" "@path" "content-digest", the digest of the whole photo); a photo leaves the queue
// only when the gateway's receipt for it verifies with the gateway's key.

const DB_NAME = 'prep-app';
const DB_VERSION = 1;
export const CHUNK = 1 << 20; // bytes per request of a resumable upload

let dbp = null;
export function db() {
  if (!dbp) {
    dbp = new Promise((resolve, reject) => {
      const r = indexedDB.open(DB_NAME, DB_VERSION);
      r.onupgradeneeded = () => {
        r.result.createObjectStore('device');
        r.result.createObjectStore('photos', { keyPath: 'local_id', autoIncrement: true });
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  }
  return dbp;
}

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

// Runs |fn| on object store |name| in one transaction and resolves once it is committed (so
// "stored" means on disk as far as the browser can tell).
async function tx(name, mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const t = d.transaction(name, mode, { durability: 'strict' });
    let out;
    Promise.resolve(fn(t.objectStore(name))).then((v) => { out = v; }, reject);
    t.oncomplete = () => resolve(out);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

export const getDevice = () => tx('device', 'readonly', (s) => req(s.get('self')));
export const putDevice = (d) => tx('device', 'readwrite', (s) => req(s.put(d, 'self')));
export const listPhotos = () => tx('photos', 'readonly', (s) => req(s.getAll()));
export const getPhoto = (id) => tx('photos', 'readonly', (s) => req(s.get(id)));
export const putPhoto = (p) => tx('photos', 'readwrite', (s) => req(s.put(p)));

// Changes photo |id| with |fn| in one transaction; returns the new record.
export function updatePhoto(id, fn) {
  return tx('photos', 'readwrite', async (s) => {
    const p = await req(s.get(id));
    if (!p) return null;
    fn(p);
    await req(s.put(p));
    return p;
  });
}

// --- encodings and keys ----------------------------------------------------------------------

export function b64(bytes) {
  let s = '';
  const u = new Uint8Array(bytes);
  for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode(...u.subarray(i, i + 0x8000));
  return btoa(s);
}

export function unb64(text) {
  const s = atob(text);
  const u = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
  return u;
}

export const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');

// True when this browser has WebCrypto Ed25519 (Chromium 137+, Firefox 129+, Safari 17+).
export async function hasEd25519() {
  try {
    await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    return true;
  } catch (e) {
    return false;
  }
}

// Without WebCrypto Ed25519: npm's @noble/ed25519, pinned and bundled by scripts/lib.sh
// (prep_app_vendor) into vendor/. Its key is 32 random bytes kept in IndexedDB: readable by the
// app's own scripts, unlike a non-extractable CryptoKey (docs/app.md). null when not bundled.
export const FALLBACK = '@noble/ed25519 2.1.0';
let noble = null;
export async function fallback() {
  if (!noble) noble = import('./vendor/noble-ed25519.js').catch(() => null);
  return noble;
}

// A new key pair. With WebCrypto, the private half can never leave the browser
// (non-extractable; CryptoKey objects are stored in IndexedDB as they are).
export async function newKeyPair() {
  if (await hasEd25519()) {
    const kp = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    const pub = await crypto.subtle.exportKey('raw', kp.publicKey);
    return { keyPair: kp, publicKey: b64(pub) };
  }
  const ed = await fallback();
  if (!ed) return null;
  const seed = crypto.getRandomValues(new Uint8Array(32));
  return { seed, lib: FALLBACK, publicKey: b64(await ed.getPublicKeyAsync(seed)) };
}

async function edSign(device, bytes) {
  if (device.keyPair) return crypto.subtle.sign({ name: 'Ed25519' }, device.keyPair.privateKey, bytes);
  return (await fallback()).signAsync(bytes, device.seed);
}

async function edVerify(pub, sig, bytes) {
  if (await hasEd25519()) {
    const key = await crypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
    return crypto.subtle.verify({ name: 'Ed25519' }, key, sig, bytes);
  }
  return (await fallback()).verifyAsync(sig, bytes, pub);
}

function nonce() {
  const r = crypto.getRandomValues(new Uint8Array(16));
  return b64(r).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

// The three signature fields of an RFC 9421 request signature over "@method", "@path" and
// "content-digest", as gw_sig_make_input() and pu_sign.c make them.
export async function signFields(device, method, path, digestValue) {
  const params = `("@method" "@path" "content-digest");created=${Math.floor(Date.now() / 1000)};` +
    `nonce="${nonce()}";keyid="${device.device_id}";alg="ed25519"`;
  const base = `"@method": ${method}\n"@path": ${path}\n"content-digest": ${digestValue}\n` +
    `"@signature-params": ${params}`;
  const sig = await edSign(device, new TextEncoder().encode(base));
  return { 'content-digest': digestValue, 'signature-input': `sig1=${params}`, signature: `sig1=:${b64(sig)}:` };
}

export const digestValue = (shaBytes) => `sha-256=:${b64(shaBytes)}:`;

// The receipt's signed text (docs/security.md, gw_receipt_text()).
export function receiptText(r) {
  return `prep-casilla receipt v1\nphoto_id=${r.photo_id}\nclave=${r.clave_acta}\nsha256=${r.sha256}\n` +
    `bytes=${r.bytes}\nreceived_at=${r.received_at}\ndevice=${r.device}\n` +
    `ledger_seq=${r.ledger.seq}\nledger_hash=${r.ledger.hash}\n`;
}

// Checks receipt |r| for photo |p| with the gateway key kept at enrolment: the signature, and
// that it names this photo (digest, size, clave). Its device is ours, or another phone's that
// sent the very same bytes first (the gateway keeps one photo and answers its first receipt).
// Returns null or the reason.
export async function verifyReceipt(device, p, r) {
  if (!r || typeof r !== 'object' || !r.ledger || typeof r.signature !== 'string') return 'no receipt';
  if (r.sha256 !== p.sha256 || r.bytes !== p.size || r.clave_acta !== p.clave) {
    return 'the receipt names another photo';
  }
  try {
    const ok = await edVerify(unb64(device.gateway_key.public_key), unb64(r.signature),
      new TextEncoder().encode(receiptText(r)));
    return ok ? null : 'the receipt signature does not verify';
  } catch (e) {
    return 'the receipt signature does not verify';
  }
}

// --- the queue -------------------------------------------------------------------------------

// Stores a new photo (a JPEG Blob) for |clave|: digest first, then IndexedDB, before any send.
export async function enqueue(clave, blob, hints, retakeOf) {
  const sha = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
  const p = {
    clave, blob, size: blob.size, sha256: hex(sha), digest: digestValue(sha), created: Date.now(),
    state: 'queued', offset: 0, upload_url: null, receipt: null, photo_id: null,
    hints: hints || [], retake_of: retakeOf || null, error: null,
  };
  p.local_id = await putPhoto(p);
  return p;
}

class Offline extends Error {}

// A request that gives up after NET_TIMEOUT ms (a stalled link must not hold the send lock).
const NET_TIMEOUT = 120000;

async function net(url, init) {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(NET_TIMEOUT) });
  } catch (e) {
    throw new Offline(String(e));
  }
}

const SENT = new Set(['received']);

// Sends one photo to the end. Saves the upload's URL and offset after every answer, so a
// reload, a closed tab or the service worker goes on from where the gateway is. Throws Offline
// when the network is gone; returns when the receipt verified, or when the gateway refused the
// photo for good (state 'refused', kept with the reason).
async function sendOne(device, id, onProgress) {
  let p = await getPhoto(id);
  const save = (fn) => updatePhoto(id, fn).then((np) => { p = np; return np; });
  const finish = async (r) => {
    const receipt = await r.json();
    const why = await verifyReceipt(device, p, receipt);
    await save((x) => {
      x.receipt = receipt;
      x.photo_id = receipt.photo_id || null;
      if (why) {
        x.state = 'unverified';
        x.error = why;
      } else {
        x.state = 'received';
        x.blob = null; // the photo is safe at the gateway: free the phone's storage
        x.error = null;
      }
    });
  };
  await save((x) => { x.state = 'sending'; });
  for (;;) {
    if (!p.upload_url) {
      // Create the upload resource: a signed POST with the first chunk and Upload-Complete
      // ?0 (or ?1 when it is the whole photo); its 201/204 answer carries the Location. The
      // digest covers the whole photo, as for a plain upload.
      const path = `/v1/actas/${p.clave}/photos`;
      const last = p.size <= CHUNK;
      const body = p.blob.slice(0, Math.min(CHUNK, p.size));
      const sig = await signFields(device, 'POST', path, p.digest);
      const r = await net(path, {
        method: 'POST', body,
        headers: { 'content-type': 'image/jpeg', 'upload-complete': last ? '?1' : '?0',
          'upload-length': String(p.size), ...sig },
      });
      if (r.status === 200 || r.status === 201) {
        if (last || r.headers.get('upload-complete') === '?1') return finish(r);
      }
      if (r.ok && r.headers.get('location')) {
        const off = Number(r.headers.get('upload-offset') || 0);
        await save((x) => { x.upload_url = r.headers.get('location'); x.offset = off; });
        onProgress(p);
        continue;
      }
      return refuse(save, r);
    }
    if (p.needs_head) {
      const h = await net(p.upload_url, { method: 'HEAD', cache: 'no-store' });
      if (h.status === 404) {
        await save((x) => { x.upload_url = null; x.offset = 0; x.needs_head = false; });
        continue;
      }
      if (!h.ok) return refuse(save, h);
      const off = Number(h.headers.get('upload-offset') || 0);
      await save((x) => { x.offset = off; x.needs_head = false; });
      onProgress(p);
    }
    const end = Math.min(p.offset + CHUNK, p.size);
    const last = end === p.size;
    // Until the answer comes, the offset on the gateway is unknown: ask (HEAD) after a cut.
    await save((x) => { x.needs_head = true; });
    const r = await net(p.upload_url, {
      method: 'PATCH', body: p.blob.slice(p.offset, end),
      headers: { 'content-type': 'application/partial-upload', 'upload-offset': String(p.offset),
        'upload-complete': last ? '?1' : '?0' },
    });
    if (r.status === 200 || r.status === 201) {
      await save((x) => { x.needs_head = false; x.offset = p.size; });
      return finish(r);
    }
    if (r.status === 204 || r.status === 409) {
      const off = Number(r.headers.get('upload-offset'));
      await save((x) => {
        x.needs_head = !(off >= 0 && r.headers.has('upload-offset'));
        if (!x.needs_head) x.offset = off;
      });
      onProgress(p);
      continue;
    }
    if (r.status === 404) {
      await save((x) => { x.upload_url = null; x.offset = 0; x.needs_head = false; });
      continue;
    }
    return refuse(save, r);
  }
}

async function refuse(save, r) {
  let detail = `HTTP ${r.status}`;
  try {
    const j = await r.json();
    detail = j.detail || j.title || detail;
  } catch (e) { /* not JSON */ }
  if (r.status >= 500 || r.status === 429) throw new Offline(detail); // try again later
  await save((x) => { x.state = 'refused'; x.error = detail; x.needs_head = false; });
}

// Sends every photo that has no verified receipt, oldest first, one at a time (so they arrive
// in order). Returns 'done', 'offline' or 'busy' (another context is sending).
export async function drain(onProgress = () => {}) {
  const run = async () => {
    const device = await getDevice();
    if (!device) return 'done';
    const photos = (await listPhotos()).sort((a, b) => a.local_id - b.local_id);
    for (const p of photos) {
      if (SENT.has(p.state) || p.state === 'refused' || p.state === 'unverified') continue;
      try {
        await sendOne(device, p.local_id, onProgress);
        onProgress(await getPhoto(p.local_id));
      } catch (e) {
        if (!(e instanceof Offline)) throw e;
        // No signal: this photo and every one after it wait (they go in order).
        for (const q of photos) {
          if (q.local_id >= p.local_id && !SENT.has(q.state) && q.state !== 'refused' && q.state !== 'unverified') {
            await updatePhoto(q.local_id, (x) => { x.state = 'waiting'; });
          }
        }
        onProgress(await getPhoto(p.local_id));
        return 'offline';
      }
    }
    return 'done';
  };
  if (self.navigator && navigator.locks) {
    return navigator.locks.request('prep-send', { ifAvailable: true }, (lock) => (lock ? run() : 'busy'));
  }
  return run();
}

// The device's photos as the gateway sees them (GET /v1/devices/self/photos, signed).
export async function serverStates(device) {
  const path = '/v1/devices/self/photos';
  const empty = new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(0)));
  const sig = await signFields(device, 'GET', path, digestValue(empty));
  const r = await fetch(path, { headers: sig, cache: 'no-store' });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return r.json();
}
