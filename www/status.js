/*
 * defgate status page: polls status.json every 5 s and renders it.
 * Every string from the gateway is inserted with textContent (never as HTML).
 */
'use strict';

(function () {
  const POLL_MS = 5000;
  const FETCH_TIMEOUT_MS = 4000;

  /* Fallback hints, used only when the gateway did not send one. */
  const AADSTS_HINTS = {
    7000215: 'wrong secret value: paste the secret\'s Value, not its Secret ID',
    7000222: 'the client secret has expired: create a new one and update the secret file',
    700016: 'app not found in this tenant, or no admin consent: check tenant_id and client_id',
    90002: 'tenant not found: check tenant_id and authority_host (cloud)',
    500011: 'the Defender (Microsoft Threat Protection) service principal is missing in the tenant or not consented'
  };

  const STATE_BADGE = {
    none: ['no token yet', 'badge-off'],
    valid: ['valid', 'badge-ok'],
    refreshing: ['refreshing', 'badge-info badge-pulse'],
    expired: ['expired', 'badge-bad'],
    error: ['error', 'badge-bad']
  };

  let data = null;          /* last good status.json */
  let fetchedAtMs = 0;      /* Date.now() when data arrived */
  let skewS = 0;            /* gateway clock minus local clock, seconds */
  let failing = null;       /* error text while the gateway is unreachable */
  let ticking = [];         /* {node, fn} updated every second */
  let inflight = false;

  /* ---------- small helpers ---------- */

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  function isObj(x) { return x !== null && typeof x === 'object' && !Array.isArray(x); }
  function isNum(x) { return typeof x === 'number' && isFinite(x); }
  function str(x) {
    if (x === null || x === undefined || x === '') return '—';
    if (typeof x === 'boolean') return x ? 'yes' : 'no';
    return String(x);
  }
  function arr(x) { return Array.isArray(x) ? x : []; }
  function get(o, k) { return isObj(o) ? o[k] : undefined; }

  /* Gateway "now" in unix seconds, corrected for clock skew. */
  function nowS() { return Date.now() / 1000 + skewS; }

  function isoUTC(t) {
    if (!isNum(t) || t <= 0) return '—';
    const d = new Date(t * 1000);
    if (isNaN(d.getTime())) return '—';
    return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  function dur(s) {
    s = Math.max(0, Math.floor(s));
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
    const m = Math.floor(s % 3600 / 60), sec = s % 60;
    const p2 = (v) => String(v).padStart(2, '0');
    if (d > 0) return d + 'd ' + h + 'h ' + p2(m) + 'm';
    if (h > 0) return h + 'h ' + p2(m) + 'm ' + p2(sec) + 's';
    if (m > 0) return m + 'm ' + p2(sec) + 's';
    return sec + 's';
  }

  function relTime(t) {
    if (!isNum(t) || t <= 0) return '—';
    const delta = t - nowS();
    return delta >= 0 ? 'in ' + dur(delta) : dur(-delta) + ' ago';
  }

  function fmtInt(x) { return isNum(x) ? Math.round(x).toLocaleString('en-US') : '—'; }
  function fmtMs(x) {
    if (!isNum(x)) return '—';
    return (x >= 100 ? Math.round(x) : Math.round(x * 10) / 10) + ' ms';
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  /* Append a cell to row tr and return it; label: its data-label (the
     column name the narrow layout shows). */
  function cell(tr, cls, text, label) {
    const td = tr.appendChild(el('td', cls, text));
    if (label) td.setAttribute('data-label', label);
    return td;
  }

  /* Fill a table body: one row per item, built by row(item, tr); with no
     items, one row saying empty across cols columns. False when empty. */
  function fillRows(tbody, items, cols, empty, row) {
    clear(tbody);
    if (items.length === 0) {
      const td = cell(tbody.appendChild(el('tr')), 'empty', empty);
      if (cols) td.colSpan = cols;
      return false;
    }
    items.forEach(function (x) {
      const tr = el('tr');
      row(x, tr);
      tbody.appendChild(tr);
    });
    return true;
  }

  function kv(dl, label, value, cls) {
    dl.appendChild(el('dt', null, label));
    const text = value instanceof Node ? null : str(value);
    const dd = el('dd', text === '—' ? 'muted' : (cls || null));
    if (value instanceof Node) dd.appendChild(value); else dd.textContent = text;
    dl.appendChild(dd);
    return dd;
  }

  /* A value that is refreshed every second. */
  function live(tag, cls, fn) {
    const n = el(tag, cls);
    ticking.push({ node: n, fn: fn });
    fn(n);
    return n;
  }

  function hasRole(roles, r) {
    const lr = String(r).toLowerCase();
    return roles.some((x) => String(x).toLowerCase() === lr);
  }

  /* ---------- rendering ---------- */

  function renderHeader(d) {
    $('version').textContent = d.version ? 'v' + d.version : '';
    $('demo-badge').classList.toggle('hidden', get(d.config, 'demo') !== true);
    const parts = [];
    if (get(d.config, 'listen')) parts.push(String(d.config.listen));
    document.title = 'defgate status' + (parts.length ? ' · ' + parts[0] : '');
  }

  function tokenState(tok) {
    const s = get(tok, 'state');
    return typeof s === 'string' && s ? s : 'none';
  }

  /* True when the gateway holds decoded claims of a token (maybe expired). */
  function decoded(tok) {
    if (typeof tok.decoded === 'boolean') return tok.decoded;
    return tokenState(tok) !== 'none' && !!(tok.tenant_id || tok.app_id || tok.issuer || tok.audience ||
      (Array.isArray(tok.roles) && tok.roles.length));
  }

  /* Latency figures, or {} while no upstream request has been made. */
  function latency(up) {
    if (!isObj(up.latency_ms) || up.requests === 0) return {};
    return up.latency_ms;
  }

  function renderSummary(d) {
    const tok = isObj(d.token) ? d.token : {};
    const state = tokenState(tok);
    const b = STATE_BADGE[state] || [state, 'badge-warn'];
    const badge = $('token-state');
    badge.textContent = b[0];
    badge.className = 'badge ' + b[1];

    const sub = $('token-state-sub');
    const sparts = [];
    if (tok.version) sparts.push('v' + tok.version + ' token');
    if (tok.credential) sparts.push(String(tok.credential));
    if (!decoded(tok)) {
      /* nothing to say about roles */
    } else if (tok.has_roles === false || arr(tok.roles).length === 0) {
      sparts.push('no roles');
    } else {
      sparts.push(tok.roles.length + (tok.roles.length === 1 ? ' role' : ' roles'));
    }
    if (tok.stale === true) sparts.push('last good token (expired/invalid)');
    sub.textContent = sparts.join(' · ');
    sub.classList.toggle('s5', sparts.indexOf('no roles') >= 0);

    /* expires-in countdown */
    const exp = tok.expires_at;
    const ex = $('expires-in');
    ticking.push({
      node: ex,
      fn: function (n) {
        n.className = 'card-value mono';
        if (!isNum(exp) || exp <= 0) { n.textContent = '—'; return; }
        const left = exp - nowS();
        if (left <= 0) {
          n.textContent = 'expired';
          n.classList.add('bad');
        } else {
          n.textContent = dur(left);
          n.classList.add(left < 300 ? 'bad' : left < 900 ? 'warn' : 'ok');
        }
      }
    });
    $('expires-at').textContent = isNum(exp) && exp > 0 ? 'exp ' + isoUTC(exp) : '';

    /* requests */
    const req = isObj(d.requests) ? d.requests : {};
    $('req-total').textContent = fmtInt(req.total);
    let errs = 0, okc = 0;
    const byRoute = isObj(req.by_route) ? req.by_route : {};
    Object.keys(byRoute).forEach(function (r) {
      const m = byRoute[r];
      if (!isObj(m)) return;
      Object.keys(m).forEach(function (code) {
        const c = Number(code), n = Number(m[code]) || 0;
        if (c >= 200 && c < 400) okc += n; else if (c >= 400) errs += n;
      });
    });
    const own = get(d.own_requests, 'total');
    $('req-sub').textContent = fmtInt(okc) + ' ok · ' + fmtInt(errs) + ' 4xx/5xx' +
      (isNum(own) ? ' · not counted: ' + fmtInt(own) + ' for this page and probes' : '');

    /* latency */
    const up = isObj(d.upstream) ? d.upstream : {};
    const lat = latency(up);
    $('lat-main').textContent = (isNum(lat.p50) || isNum(lat.p99))
      ? fmtMs(lat.p50).replace(' ms', '') + ' / ' + fmtMs(lat.p99) : '—';
    $('lat-sub').textContent = 'avg ' + fmtMs(lat.avg) + ' · max ' + fmtMs(lat.max);

    /* uptime (ticks) */
    const up0 = d.uptime_s, at = fetchedAtMs;
    ticking.push({
      node: $('uptime'),
      fn: function (n) {
        n.textContent = isNum(up0) ? dur(up0 + (Date.now() - at) / 1000) : '—';
      }
    });
    $('uptime-sub').textContent = isNum(d.now) && isNum(up0) ? 'since ' + isoUTC(d.now - up0) : '';
  }

  function errorBox(cls, title) {
    const box = el('div', 'alert ' + cls);
    box.setAttribute('role', 'alert');
    box.appendChild(el('div', 'alert-title', title));
    return box;
  }

  function renderErrors(d) {
    const host = $('errors');
    clear(host);
    const le = get(d.token, 'last_error');
    if (isObj(le)) {
      const code = isNum(le.aadsts) ? le.aadsts : (typeof le.aadsts === 'string' && /^\d+$/.test(le.aadsts) ? Number(le.aadsts) : null);
      let title = 'Last token error';
      if (le.error) title += ': ' + le.error;
      if (code !== null) title += ' (AADSTS' + code + ')';
      const box = errorBox('alert-error', title);
      const hint = le.hint || (code !== null ? AADSTS_HINTS[code] : null);
      if (hint) box.appendChild(el('div', 'alert-hint', 'Hint: ' + hint));
      if (le.description) box.appendChild(el('pre', 'alert-desc', le.description));
      const meta = el('div', 'alert-meta');
      if (isNum(le.time)) {
        const t = le.time;
        meta.appendChild(el('span', null, 'at ' + isoUTC(t)));
        meta.appendChild(live('span', null, function (n) { n.textContent = relTime(t); }));
      }
      if (le.http_status) meta.appendChild(el('span', null, 'HTTP ' + le.http_status));
      if (isNum(le.retry_after) && le.retry_after > 0) meta.appendChild(el('span', null, 'Retry-After ' + le.retry_after + ' s'));
      if (le.trace_id) meta.appendChild(el('span', 'mono', 'trace ' + le.trace_id));
      if (le.correlation_id) meta.appendChild(el('span', 'mono', 'correlation ' + le.correlation_id));
      if (meta.firstChild) box.appendChild(meta);
      const tok = d.token;
      if (tokenState(tok) === 'valid' || tokenState(tok) === 'refreshing') {
        box.appendChild(el('div', 'alert-meta', 'The cached token is still valid and in use; refresh is retried with backoff.'));
      }
      host.appendChild(box);
    }

    const lf = get(d.upstream, 'last_forbidden');
    if (lf !== null && lf !== undefined && lf !== '') {
      const box = errorBox('alert-warn', 'Last 403 from the API (missing application roles)');
      box.id = 'last-403';
      let msg = lf, t = isNum(get(d.upstream, 'last_forbidden_at')) ? d.upstream.last_forbidden_at : null;
      let route = get(d.upstream, 'last_forbidden_route') || null;
      if (isObj(lf)) {
        msg = lf.message || lf.text || lf.error || JSON.stringify(lf);
        t = isNum(lf.time) ? lf.time : null;
        route = lf.route || lf.path || null;
      }
      box.appendChild(el('pre', 'alert-desc', String(msg)));
      const meta = el('div', 'alert-meta');
      if (route) meta.appendChild(el('span', 'mono', 'route ' + String(route)));
      if (t !== null) {
        meta.appendChild(el('span', null, 'at ' + isoUTC(t)));
        meta.appendChild(live('span', null, function (n) { n.textContent = relTime(t); }));
      }
      meta.appendChild(el('span', null, 'Grant the missing application role and admin consent; a new token is needed to pick it up. This goes away once a call on that route succeeds.'));
      box.appendChild(meta);
      host.appendChild(box);
    }
  }

  function renderClaims(d) {
    const tok = isObj(d.token) ? d.token : {};
    const state = tokenState(tok);
    const rolesHost = $('roles');
    clear(rolesHost);
    const roles = arr(tok.roles).filter((r) => typeof r === 'string');
    const haveClaims = decoded(tok);
    const stale = haveClaims && tok.stale === true;
    $('h-claims').textContent = 'Defender XDR token claims' + (stale ? ' (last good token)' : '');
    if (stale) {
      const w = el('div', 'alert alert-error', 'last good token (expired/invalid): no valid token now, so every ' +
        'route of this API answers 503; the claims below are for diagnosis only.');
      w.id = 'claims-stale';
      rolesHost.appendChild(w);
    }

    if (haveClaims && (tok.has_roles === false || roles.length === 0)) {
      const box = el('div', 'noroles');
      box.setAttribute('role', 'alert');
      box.appendChild(el('strong', null, 'no roles: admin consent missing'));
      box.appendChild(el('span', null,
        'The token carries no application roles, so the Defender API will answer 403. In Entra ID: App registrations → ' +
        'API permissions → add Application permissions on "Microsoft Threat Protection" (Incident.Read.All, ' +
        'Incident.ReadWrite.All, AdvancedHunting.Read.All) → Grant admin consent.'));
      rolesHost.appendChild(box);
    } else if (roles.length > 0) {
      const blk = el('div', 'roles-block');
      blk.appendChild(el('div', 'roles-label', 'roles'));
      const ul = el('ul', 'chips');
      roles.forEach(function (r) { ul.appendChild(el('li', stale ? 'chip' : 'chip chip-ok', r)); });
      blk.appendChild(ul);
      rolesHost.appendChild(blk);
    } else {
      rolesHost.appendChild(el('p', 'empty', state === 'none' ? 'No token fetched yet.'
        : isObj(tok.last_error) ? 'No token: see the last token error above.' : 'No decoded claims.'));
    }

    const dl = $('claims');
    clear(dl);
    kv(dl, 'tenant (tid)', tok.tenant_id, 'mono');
    kv(dl, 'app id (appid/azp)', tok.app_id, 'mono');
    kv(dl, 'app name', tok.app_displayname);
    kv(dl, 'audience (aud)', tok.audience, 'mono');
    kv(dl, 'issuer (iss)', tok.issuer, 'mono');
    kv(dl, 'version (ver)', tok.version);
    kv(dl, 'credential', tok.credential);
    if (tok.idtyp) kv(dl, 'type (idtyp)', tok.idtyp);
    if (tok.alg) kv(dl, 'algorithm (alg)', tok.alg, 'mono');
    kv(dl, 'issued (iat)', isoUTC(tok.issued_at), 'mono');
    kv(dl, 'not before (nbf)', isoUTC(tok.not_before), 'mono');
    kv(dl, 'expires (exp)', isoUTC(tok.expires_at), 'mono');
  }

  function renderRefresh(d) {
    const tok = isObj(d.token) ? d.token : {};
    const dl = $('refresh');
    clear(dl);
    const b = STATE_BADGE[tokenState(tok)] || [tokenState(tok), 'badge-warn'];
    kv(dl, 'state', el('span', 'badge ' + b[1], b[0]));
    const exp = tok.expires_at;
    kv(dl, 'expires', live('span', null, function (n) {
      n.textContent = isNum(exp) && exp > 0 ? relTime(exp) : '—';
    }));
    const ob = tok.obtained_at;
    kv(dl, 'obtained', live('span', null, function (n) {
      n.textContent = isNum(ob) && ob > 0 ? isoUTC(ob) + ' (' + relTime(ob) + ')' : '—';
    }));
    const nr = tok.next_refresh_at;
    kv(dl, 'next refresh', live('span', null, function (n) {
      n.textContent = isNum(nr) && nr > 0 ? isoUTC(nr) + ' (' + relTime(nr) + ')' : '—';
    }));
    kv(dl, 'time left', isNum(tok.expires_in) ? dur(tok.expires_in) + ' (expires_in ' + tok.expires_in + ')' : '—');
    kv(dl, 'lifetime (exp − iat)', isNum(tok.lifetime) ? dur(tok.lifetime) : '—');
    kv(dl, 'refreshes', fmtInt(tok.refreshes));
    const f = kv(dl, 'failures', fmtInt(tok.failures));
    if (isNum(tok.failures) && tok.failures > 0) f.className = 's5';
  }

  /* The token source of a backend ("defender", "graph", "mde"). */
  function source(d, backend) {
    const s = arr(d.token_sources).filter(function (x) { return isObj(x) && x.backend === backend; });
    return s.length ? s[0] : (backend === 'defender' && isObj(d.token) ? d.token : {});
  }

  function renderSources(d) {
    const box = $('sources');
    clear(box);
    arr(d.token_sources).filter(isObj).forEach(function (t) {
      const card = el('div', 'card');
      const st = t.used === false ? 'not used yet' : String(t.state || 'none');
      card.appendChild(el('div', 'card-label', t.api || t.backend || ''));
      const v = el('div', 'card-value');
      v.appendChild(el('span', 'badge ' + (st === 'valid' || st === 'refreshing' ? 'badge-ok'
        : st === 'error' || st === 'expired' ? 'badge-solid-bad' : 'badge-off'), st));
      card.appendChild(v);
      card.appendChild(el('div', 'card-sub mono', t.scope || ''));
      card.appendChild(el('div', 'card-sub', 'permissions: ' + (t.permissions_app || '—')));
      if (isNum(t.expires_at)) {
        card.appendChild(live('div', 'card-sub', function (n) {
          n.textContent = 'expires in ' + dur(t.expires_at - nowS());
        }));
      }
      const roles = arr(t.roles).filter((r) => typeof r === 'string');
      if (t.decoded === true) {
        card.appendChild(el('div', 'card-sub', roles.length ? 'roles: ' + roles.join(', ')
          : 'no roles: admin consent missing'));
        if (t.stale === true) card.appendChild(el('div', 'card-sub', 'last good token (expired/invalid)'));
      }
      if (isObj(t.last_error)) {
        const e = t.last_error;
        card.appendChild(el('div', 'card-sub missing', 'last error: ' + str(e.error) +
          (isNum(e.aadsts) ? ' AADSTS' + e.aadsts : '') + (e.hint ? ' — ' + e.hint : '')));
      }
      box.appendChild(card);
    });
  }

  function renderHunting(d) {
    const box = $('hunting');
    clear(box);
    const h = isObj(d.hunting) ? d.hunting : null;
    if (!h) return;
    const dl = el('dl', 'kv');
    kv(dl, 'served by', h.backend === 'graph' ? 'Microsoft Graph runHuntingQuery'
      : h.backend === 'none' ? 'nothing (410 Gone)' : h.backend === 'pending'
      ? 'decided on the first call' : 'Defender XDR / MDE endpoint (retiring)');
    kv(dl, 'why', str(h.why));
    kv(dl, 'hunting_backend', str(h.mode));
    box.appendChild(dl);
    if (h.warning === true) {
      const w = el('div', 'alert alert-error');
      w.appendChild(el('strong', null, h.backend === 'none'
        ? 'The Defender hunting API was retired on 2027-02-01. '
        : 'The Defender hunting endpoints stop returning data on 2027-02-01: '));
      if (h.backend !== 'none' && isNum(h.retirement_at)) {
        w.appendChild(live('span', 'mono', function (n) {
          n.textContent = dur(h.retirement_at - nowS()) + ' left (' + h.days_left + ' day(s)). ';
        }));
      }
      w.appendChild(el('span', null, 'Fix: ' + str(h.fix) + '.'));
      box.appendChild(w);
    }
  }

  function renderRoutes(d) {
    const allowWrite = get(d.config, 'allow_write');
    fillRows($('routes').tBodies[0], arr(d.routes).filter(isObj), 6, 'No routes reported.', function (r, tr) {
      const tok = source(d, r.backend);
      const state = tokenState(tok);
      const roles = arr(tok.roles).filter((x) => typeof x === 'string');
      const requires = arr(r.requires).filter((x) => typeof x === 'string');
      const missing = arr(r.missing).filter((x) => typeof x === 'string');

      const tdPath = cell(tr, 'nowrap', null, 'Local route');
      tdPath.appendChild(el('span', 'method', r.method || ''));
      tdPath.appendChild(el('span', 'mono', r.path || '—'));

      cell(tr, 'nowrap', r.backend || '—', 'Backend');
      cell(tr, 'mono nowrap', r.upstream || '—', 'Upstream');

      const tdReq = cell(tr, null, null, 'Requires (any of)');
      if (requires.length) {
        const ul = el('ul', 'chips');
        requires.forEach(function (x) {
          ul.appendChild(el('li', 'chip' + (hasRole(roles, x) && tok.stale !== true ? ' chip-ok' : ''), x));
        });
        tdReq.appendChild(ul);
      } else {
        tdReq.appendChild(el('span', 'muted', 'none'));
      }

      const tdTok = cell(tr, null, null, 'Token');
      tr.setAttribute('data-route', (r.method || '') + ' ' + (r.path || ''));
      tr.setAttribute('data-usable', !decoded(tok) ? 'unknown' : tok.stale === true ? 'unusable'
        : r.allowed === true ? 'allowed' : 'missing-role');
      if (!decoded(tok)) {
        /* No decoded token: the roles are unknown, not missing. */
        tdTok.appendChild(el('span', 'badge badge-off', tok.used === false ? 'not used yet'
          : state === 'none' ? 'no token yet' : 'no token'));
      } else if (tok.stale === true) {
        tdTok.appendChild(el('span', 'badge badge-solid-bad', 'unusable: no valid token'));
        tr.className = 'row-bad';
      } else if (r.allowed === true) {
        tdTok.appendChild(el('span', 'badge badge-ok', 'allowed'));
      } else {
        tdTok.appendChild(el('span', 'badge badge-solid-bad', 'missing role'));
        const need = missing.length ? missing : requires;
        if (need.length) {
          tdTok.appendChild(el('div', 'missing',
            (need.length > 1 ? 'needs one of: ' : 'needs: ') + need.join(', ')));
        }
        tr.className = 'row-bad';
      }

      const tdEn = cell(tr, null, null, 'Enabled');
      if (r.enabled === false) {
        tdEn.appendChild(el('span', 'badge badge-off', 'disabled'));
        if (String(r.method).toUpperCase() !== 'GET' && allowWrite !== true) {
          tdEn.appendChild(el('div', 'muted small', 'allow_write is off'));
        }
      } else {
        tdEn.appendChild(el('span', 'badge badge-ok', 'enabled'));
      }
    });
  }

  function statusClass(code) {
    const c = Number(code);
    return c >= 500 ? 's5' : c >= 400 ? 's4' : c >= 300 ? 's3' : c >= 200 ? 's2' : '';
  }

  function renderRequests(d) {
    const table = $('requests');
    const thead = table.tHead, tbody = table.tBodies[0];
    clear(thead);
    if (table.tFoot) table.deleteTFoot();
    const byRoute = isObj(get(d.requests, 'by_route')) ? d.requests.by_route : {};
    const names = Object.keys(byRoute).filter((k) => isObj(byRoute[k])).sort();
    const codes = new Set();
    names.forEach(function (n) { Object.keys(byRoute[n]).forEach(function (c) { codes.add(c); }); });
    const key = (c) => (/^\d+$/.test(c) ? Number(c) : 1e9);
    const cols = Array.from(codes).sort((a, b) => key(a) - key(b) || (a < b ? -1 : a > b ? 1 : 0));

    const colTotals = cols.map(() => 0);
    if (!fillRows(tbody, names, 0, 'No requests yet.', function (n, tr) {
      cell(tr, 'mono', n);
      let sum = 0;
      cols.forEach(function (c, i) {
        const v = Number(byRoute[n][c]);
        const has = isNum(v) && byRoute[n][c] !== undefined;
        if (has) { sum += v; colTotals[i] += v; }
        cell(tr, 'num' + (has && v > 0 ? ' ' + statusClass(c) : ' muted'), has ? fmtInt(v) : '·');
      });
      cell(tr, 'num', fmtInt(sum));
    })) return;
    const hr = el('tr');
    hr.appendChild(el('th', null, 'Route'));
    cols.forEach(function (c) { hr.appendChild(el('th', 'num ' + statusClass(c), c)); });
    hr.appendChild(el('th', 'num', 'Total'));
    thead.appendChild(hr);

    const fr = table.createTFoot().appendChild(el('tr'));
    cell(fr, null, 'all');
    let all = 0;
    colTotals.forEach(function (v, i) { all += v; cell(fr, 'num ' + statusClass(cols[i]), fmtInt(v)); });
    cell(fr, 'num', fmtInt(all));
  }

  function fmtBytes(x) {
    if (!isNum(x)) return '—';
    const u = ['B', 'KiB', 'MiB', 'GiB'];
    let i = 0;
    while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
    return (i === 0 ? String(Math.round(x)) : x.toFixed(1)) + ' ' + u[i];
  }
  function fmtRatio(x) { return isNum(x) ? Math.round(x * 1000) / 10 + ' %' : '—'; }
  /* "3 / 50", "3 / no limit" */
  function ofLimit(n, lim) { return fmtInt(n) + ' / ' + (isNum(lim) ? fmtInt(lim) : 'no limit'); }

  /* status.json "quota": per group calls vs limits, closures, answers
     given locally; the cache's size and hit ratio. */
  function renderQuota(d) {
    const q = isObj(d.quota) ? d.quota : {};
    const c = isObj(q.cache) ? q.cache : {};
    const p = $('quota-cache');
    p.setAttribute('data-cache', c.on === true ? 'on' : 'off');
    if (c.on === true) {
      p.textContent = 'Cache on · ' + fmtInt(c.entries) + ' entries · ' + fmtBytes(c.bytes) + ' of ' +
        fmtBytes(c.max_bytes) + ' (cache_max_bytes) · hit ratio ' + fmtRatio(c.hit_ratio) + ' (' +
        fmtInt(c.hits) + ' hits of ' + fmtInt(c.cacheable) + ' cacheable requests)';
    } else {
      p.textContent = 'Cache off (cache = off): every request that passes the rate limit goes upstream.';
    }
    p.setAttribute('data-hits', String(isNum(c.hits) ? c.hits : 0));
    fillRows($('quota').tBodies[0], arr(q.groups).filter(isObj), 11, 'No quota groups.', function (g, tr) {
      const a = isObj(g.answered) ? g.answered : {};
      tr.setAttribute('data-group', str(g.name));
      tr.setAttribute('data-calls-minute', String(isNum(g.calls_minute) ? g.calls_minute : ''));
      tr.setAttribute('data-calls-hour', String(isNum(g.calls_hour) ? g.calls_hour : ''));
      tr.setAttribute('data-hits', String(isNum(a.hit) ? a.hit : ''));
      tr.setAttribute('data-local-429', String(isNum(a.local_429) ? a.local_429 : ''));
      tr.setAttribute('data-closed', g.closed === true ? 'yes' : 'no');
      cell(tr, 'mono', str(g.name));
      const m = cell(tr, 'num', ofLimit(g.calls_minute, g.limit_minute));
      if (isNum(g.limit_minute) && g.calls_minute >= g.limit_minute) m.classList.add('s4');
      cell(tr, 'num', ofLimit(g.calls_hour, g.limit_hour));
      const left = g.limited === true ?
        (isNum(g.remaining_minute) ? fmtInt(g.remaining_minute) : '∞') + ' / ' +
        (isNum(g.remaining_hour) ? fmtInt(g.remaining_hour) : '∞') : 'no limit';
      cell(tr, 'num', left);
      const st = cell(tr);
      if (g.closed === true) {
        const until = g.closed_until;
        st.appendChild(el('span', 'badge badge-bad', 'closed'));
        st.appendChild(live('span', 'quota-until', function (n) {
          n.textContent = ' until ' + isoUTC(until) + ' (Retry-After, ' + relTime(until) + ')';
        }));
      } else {
        st.appendChild(el('span', 'badge badge-ok', 'open'));
      }
      if (isNum(g.upstream_429) && g.upstream_429 > 0) st.appendChild(el('span', 'muted', ' · ' + fmtInt(g.upstream_429) + ' seen'));
      cell(tr, 'num', fmtInt(a.hit));
      cell(tr, 'num', fmtInt(a.coalesced));
      cell(tr, 'num', fmtInt(a.stale));
      const l = cell(tr, 'num', fmtInt(a.local_429));
      if (isNum(a.local_429) && a.local_429 > 0) l.classList.add('s4');
      cell(tr, 'num', fmtInt(g.avoided));
      cell(tr, 'num', fmtRatio(g.hit_ratio));
    });
  }

  function renderUpstream(d) {
    const up = isObj(d.upstream) ? d.upstream : {};
    const lat = latency(up);
    const dl = $('upstream');
    clear(dl);
    kv(dl, 'api', get(d.config, 'api_url'), 'mono');
    kv(dl, 'requests', fmtInt(up.requests));
    const e = kv(dl, 'errors (no answer or 5xx)', fmtInt(up.errors));
    if (isNum(up.errors) && up.errors > 0) e.className = 's5';
    e.id = 'up-errors';
    const f = kv(dl, '4xx answers (403, 429, …)', fmtInt(up.answers_4xx));
    if (isNum(up.answers_4xx) && up.answers_4xx > 0) f.className = 's4';
    f.id = 'up-4xx';
    kv(dl, 'latency avg', fmtMs(lat.avg));
    kv(dl, 'latency p50 (bucket bound ≤)', fmtMs(lat.p50));
    kv(dl, 'latency p99 (bucket bound ≤)', fmtMs(lat.p99));
    kv(dl, 'latency max', fmtMs(lat.max));
    const lf = up.last_forbidden;
    kv(dl, 'last 403', lf ? 'see above' : 'none');
  }

  function renderConfig(d) {
    const c = isObj(d.config) ? d.config : {};
    const dl = $('config');
    clear(dl);
    kv(dl, 'listen', c.listen, 'mono');
    kv(dl, 'api_url', c.api_url, 'mono');
    kv(dl, 'tenant_id', c.tenant_id, 'mono');
    kv(dl, 'authority_host', c.authority_host, 'mono');
    kv(dl, 'client_id', c.client_id, 'mono');
    kv(dl, 'token_version', c.token_version);
    kv(dl, 'scope', c.scope, 'mono');
    const w = kv(dl, 'allow_write', c.allow_write === undefined ? null : c.allow_write === true);
    if (c.allow_write === true) w.className = 's4';
    if (c.demo === true) kv(dl, 'demo', 'yes (simulated upstream)');
    /* Any further scalar config fields the gateway reports. */
    const shown = ['listen', 'api_url', 'tenant_id', 'authority_host', 'client_id', 'token_version', 'scope', 'allow_write', 'demo'];
    Object.keys(c).filter((k) => shown.indexOf(k) < 0).sort().forEach(function (k) {
      const v = c[k];
      if (v === null || typeof v !== 'object') kv(dl, k, v, 'mono');
      else if (Array.isArray(v)) kv(dl, k, v.map(String).join(', '), 'mono');
    });
  }

  /* Cloud, credential and certificate (status.json "cloud", "credential"):
     appended to the configuration list; a certificate expiry warning joins
     the alerts. Runs after renderErrors and renderConfig. */
  function renderCredential(d) {
    const cr = isObj(d.credential) ? d.credential : null;
    const dl = $('config');
    if (d.cloud) kv(dl, 'cloud', d.cloud);
    if (!cr) return;
    kv(dl, 'credential', cr.kind);
    const ce = isObj(cr.certificate) ? cr.certificate : null;
    if (ce) {
      kv(dl, 'certificate', ce.subject, 'mono');
      kv(dl, 'thumbprint (SHA-256)', ce.thumbprint_sha256, 'mono');
      kv(dl, 'thumbprint (SHA-1)', ce.thumbprint_sha1, 'mono');
      kv(dl, 'certificate expires', ce.not_after + (isNum(ce.days_left) ? ' (' + ce.days_left + ' days)' : ''), 'mono');
      if (ce.warning) {
        const box = errorBox('alert-warn', 'Certificate expiry');
        box.appendChild(el('div', 'alert-hint', String(ce.warning)));
        $('errors').appendChild(box);
      }
    }
    if (cr.federated_token_file) kv(dl, 'federated token file', cr.federated_token_file, 'mono');
    if (cr.endpoint) kv(dl, 'managed identity', cr.endpoint === 'imds' ? 'IMDS' : 'App Service / Container Apps');
    kv(dl, 'egress proxy', cr.proxy || 'none', 'mono');
  }

  function renderLive() {
    const liveN = $('live');
    const txt = $('live-text');
    if (failing) {
      liveN.className = 'live bad';
      txt.textContent = 'unreachable';
    } else if (data) {
      liveN.className = 'live ok';
      const ago = Math.floor((Date.now() - fetchedAtMs) / 1000);
      txt.textContent = 'live · updated ' + (ago <= 1 ? 'just now' : ago + 's ago');
    }
  }

  function renderUnreachable() {
    const box = $('unreachable');
    if (!failing) {
      box.classList.add('hidden');
      document.body.classList.remove('stale');
      return;
    }
    box.classList.remove('hidden');
    let detail = '— ' + failing + '. Retrying every 5 s.';
    if (data) detail += ' Showing data from ' + new Date(fetchedAtMs).toLocaleTimeString() + '.';
    $('unreachable-detail').textContent = detail;
    document.body.classList.toggle('stale', !!data);
  }

  function render() {
    ticking = [];
    if (data) {
      const sections = [renderHeader, renderSummary, renderErrors, renderHunting, renderSources,
        renderClaims, renderRefresh, renderQuota, renderRoutes, renderRequests, renderUpstream, renderConfig,
        renderCredential];
      sections.forEach(function (f) {
        try { f(data); } catch (e) { console.error('defgate status: ' + f.name, e); }
      });
    }
    document.body.classList.toggle('nodata', !data);
    if (data) {
      const tok = isObj(data.token) ? data.token : {};
      document.body.setAttribute('data-token-state', tokenState(tok));
      document.body.setAttribute('data-token-stale', String(tok.stale === true));
      document.body.setAttribute('data-last-403', get(data.upstream, 'last_forbidden') ? 'yes' : 'no');
    }
    renderUnreachable();
    tick();
  }

  function tick() {
    ticking.forEach(function (t) {
      try { t.fn(t.node); } catch (e) { /* keep ticking the others */ }
    });
    renderLive();
  }

  /* ---------- polling ---------- */

  async function poll() {
    if (inflight) return;
    inflight = true;
    const ctl = typeof AbortController === 'function' ? new AbortController() : null;
    const timer = ctl ? setTimeout(function () { ctl.abort(); }, FETCH_TIMEOUT_MS) : null;
    try {
      const res = await fetch('status.json', {
        cache: 'no-store',
        credentials: 'omit',
        headers: { 'Accept': 'application/json' },
        signal: ctl ? ctl.signal : undefined
      });
      if (!res.ok) throw new Error('status.json answered HTTP ' + res.status);
      let j;
      try { j = await res.json(); } catch (e) { throw new Error('status.json is not valid JSON'); }
      if (!isObj(j)) throw new Error('status.json is not a JSON object');
      data = j;
      fetchedAtMs = Date.now();
      skewS = isNum(j.now) ? j.now - fetchedAtMs / 1000 : 0;
      if (Math.abs(skewS) < 2) skewS = 0;   /* ignore sub-second rounding */
      failing = null;
    } catch (e) {
      failing = e && e.name === 'AbortError' ? 'no answer within ' + FETCH_TIMEOUT_MS / 1000 + ' s'
        : (e && e.message && !/fetch|network/i.test(e.message) ? e.message : 'connection failed');
    } finally {
      if (timer) clearTimeout(timer);
      inflight = false;
    }
    render();
  }

  function start() {
    poll();
    setInterval(poll, POLL_MS);
    setInterval(tick, 1000);
    document.addEventListener('visibilitychange', function () {
      if (document.visibilityState === 'visible') poll();
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
