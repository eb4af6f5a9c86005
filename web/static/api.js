// Shared by every page: the session, JSON requests with the CSRF token, live counters.
'use strict';

const PREP = {
  session: null,

  // Where each role starts: capturists capture, everyone else verifies.
  home(role) {
    return role === 'capturist' ? '/capture/' : '/review/';
  },

  // Loads the session or sends the browser to the login page; a role not in |roles| (when given)
  // is sent to its own page. Elements with data-roles="r1 r2" are shown to those roles only.
  async requireSession(roles) {
    const r = await fetch('/v1/session', { credentials: 'same-origin' });
    if (r.status !== 200) {
      location.href = '/login/?next=' + encodeURIComponent(location.pathname + location.search);
      return new Promise(() => {}); // the page is going away
    }
    PREP.session = await r.json();
    if (roles && !roles.includes(PREP.session.role)) {
      location.replace(PREP.home(PREP.session.role));
      return new Promise(() => {});
    }
    for (const el of document.querySelectorAll('[data-roles]'))
      el.hidden = !el.dataset.roles.split(' ').includes(PREP.session.role);
    const who = document.getElementById('who');
    if (who) who.textContent = PREP.session.username + ' (' + PREP.rolName(PREP.session.role) + ')';
    const out = document.getElementById('logout');
    if (out) out.addEventListener('click', PREP.logout);
    return PREP.session;
  },

  rolName(role) {
    return { clerk: 'verificador', capturist: 'capturista', supervisor: 'supervisor',
      admin: 'administrador' }[role] || role;
  },

  // A JSON request; POSTs carry the CSRF token. Returns {status, body}.
  async call(method, path, body) {
    const headers = {};
    if (method !== 'GET') headers['X-CSRF-Token'] = PREP.session ? PREP.session.csrf_token : '';
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, {
      method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let doc = null;
    const type = r.headers.get('content-type') || '';
    if (type.includes('json')) doc = await r.json();
    if (r.status === 401) location.href = '/login/?next=' + encodeURIComponent(location.pathname);
    return { status: r.status, body: doc };
  },

  // A page may hand back what it holds first (PREP.beforeLogout), while the session lives.
  async logout() {
    if (PREP.beforeLogout) await PREP.beforeLogout();
    await PREP.call('POST', '/v1/logout');
    location.href = '/login/';
  },

  // Problem documents (RFC 9457) in Spanish for the clerk.
  problemText(doc) {
    const t = doc && doc.type ? doc.type.replace('/problems/', '') : '';
    const es = {
      'stale-lease': 'Tu reserva de esta foto expiró o la tomó otra persona.',
      'already-decided': 'Esta foto ya fue decidida.',
      'already-captured': 'Esta acta ya tiene tu captura (o la reserva ya se usó).',
      'invalid-capture': 'Captura no válida' + (doc && doc.detail ? ': ' + doc.detail : '.'),
      'not-found': 'Ya no está en la cola.',
      'invalid-decision': 'Decisión no válida.',
      'forbidden': 'Tu cuenta no tiene permiso para esto.',
      'unauthenticated': 'Inicia sesión de nuevo.',
      'csrf-token-invalid': 'La sesión cambió: recarga la página.',
      'service-unavailable': 'La base de datos no responde; reintenta.',
    };
    return es[t] || (doc && doc.detail) || 'Error';
  },

  // Live counters: calls |onCounts| with each "counts" event; reconnects by itself.
  counters(onCounts) {
    const es = new EventSource('/v1/review/events');
    es.addEventListener('counts', (e) => onCounts(JSON.parse(e.data)));
    return es;
  },

  showCounts(c) {
    for (const k of Object.keys(c)) {
      const el = document.getElementById('c-' + k);
      if (el) el.textContent = c[k].toLocaleString('es-MX');
    }
  },
};
