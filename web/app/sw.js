// The app's service worker: keeps the app's files (the shell) so that it opens without signal,
// and sends the queue by itself on Background Sync (where the browser has it), with the same
// code as the page (store.js; a Web Lock keeps them from sending together).
import { drain } from './store.js';

const CACHE = 'prep-app-v1';
const SHELL = ['./', './index.html', './app.css', './app.js', './store.js', './hints.js',
  './manifest.webmanifest', './icon.svg'];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// The shell: network first (the files are small and say no-cache, so an update shows at once),
// the cached copy when there is no signal. The API is never cached.
self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== location.origin || !url.pathname.startsWith('/app/')) return;
  e.respondWith(fetch(e.request).then((r) => {
    if (r.ok) {
      const copy = r.clone();
      caches.open(CACHE).then((c) => c.put(e.request, copy));
    }
    return r;
  }, () => caches.match(e.request, { ignoreSearch: true })
    .then((r) => r || caches.match('./index.html'))));
});

// With the app open, the page sends (it shows the progress): it is only told to try now. With
// no page left (the tab closed), the worker sends by itself.
async function syncAndTell() {
  const clients = await self.clients.matchAll({ type: 'window' });
  if (clients.length) {
    for (const c of clients) c.postMessage({ type: 'send-now' });
    return;
  }
  const res = await drain();
  if (res === 'offline') throw new Error('still offline'); // the browser retries the sync later
}

self.addEventListener('sync', (e) => {
  if (e.tag === 'prep-send') e.waitUntil(syncAndTell());
});
