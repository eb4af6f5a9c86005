'use strict';
document.getElementById('login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const status = document.getElementById('status');
  status.textContent = 'Entrando…';
  const r = await fetch('/v1/login', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, credentials: 'same-origin',
    body: JSON.stringify({
      username: document.getElementById('username').value.trim(),
      password: document.getElementById('password').value,
    }),
  });
  if (r.status === 200) {
    // Without a page to go back to, each role starts on its own: capturists capture.
    const doc = await r.json();
    const home = doc.role === 'capturist' ? '/capture/' : '/review/';
    const next = new URLSearchParams(location.search).get('next') || home;
    location.href = next.startsWith('/') && !next.startsWith('//') ? next : home;
    return;
  }
  const doc = await r.json().catch(() => ({}));
  status.classList.add('error');
  if (r.status === 429) {
    status.textContent = 'Demasiados intentos fallidos. Espera ' +
      (r.headers.get('retry-after') || 'unos') + ' segundos.';
  } else if (r.status === 503) {
    status.textContent = 'El servidor está ocupado. Vuelve a intentar en ' +
      (r.headers.get('retry-after') || 'unos') + ' segundos.';
  } else {
    status.textContent = r.status === 401 ? 'Usuario o contraseña incorrectos.' : (doc.detail || 'Error');
  }
});
