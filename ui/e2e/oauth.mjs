// A scripted sign-in against the in-process server, as a browser would do it: the
// authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636) through the server's own
// login and consent pages, then the code exchange. Loopback only.
import { createHash, randomBytes } from 'node:crypto';

const b64url = (b) => Buffer.from(b).toString('base64url');

class Browser {
  constructor() { this.cookies = new Map(); }
  async fetch(url, init = {}) {
    const headers = { ...(init.headers ?? {}) };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie?.() ?? []) {
      const [kv] = c.split(';');
      const i = kv.indexOf('=');
      this.cookies.set(kv.slice(0, i).trim(), kv.slice(i + 1).trim());
    }
    return res;
  }
}

function hidden(html, name) {
  const m = html.match(new RegExp(`<input type="hidden" name="${name}" value="([^"]*)"`));
  return m ? m[1].replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>') : null;
}

/** Signs `username` in to `clientId` and returns the token response. */
export async function signIn({ issuer, clientId, clientSecret, redirectUri, username, password, scope = 'openid profile offline_access' }) {
  const b = new Browser();
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const state = b64url(randomBytes(12));
  const q = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope, state, code_challenge: challenge, code_challenge_method: 'S256' });
  let res = await b.fetch(`${issuer}/authorize?${q}`);
  let loc = res.headers.get('location');
  if (!loc) throw new Error(`authorize answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const abs = (l) => (l.startsWith('/') ? `${issuer}${l}` : l);
  const form = (o) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: issuer }, body: new URLSearchParams(o).toString() });
  for (let step = 0; step < 6 && !loc.startsWith(redirectUri); step++) {
    const page = await (await b.fetch(abs(loc))).text();
    if (loc.startsWith('/login')) {
      const f = { username, password, csrf: hidden(page, 'csrf') };
      const req = hidden(page, 'req');
      if (req) f.req = req;
      res = await b.fetch(`${issuer}/login`, form(f));
    } else if (loc.startsWith('/consent')) {
      res = await b.fetch(`${issuer}/consent`, form({ req: hidden(page, 'req'), csrf: hidden(page, 'csrf'), decision: 'approve' }));
    } else {
      throw new Error(`unexpected redirect to ${loc}`);
    }
    loc = res.headers.get('location');
    if (!loc) throw new Error(`sign-in step answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  }
  const back = new URL(loc);
  if (back.searchParams.get('state') !== state) throw new Error('state mismatch');
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`no code: ${loc}`);
  const tok = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier }).toString(),
  });
  const json = await tok.json();
  if (!tok.ok) throw new Error(`token: ${JSON.stringify(json)}`);
  return json;
}

/** RFC 7662 introspection, authenticated as the client. */
export async function introspect({ issuer, clientId, clientSecret, token }) {
  const res = await fetch(`${issuer}/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}` },
    body: new URLSearchParams({ token }).toString(),
  });
  if (!res.ok) throw new Error(`introspect answered ${res.status}`);
  return res.json();
}

/** One sign-in at the server's own form, from `from` (a loopback address such as
 * 127.0.0.9, so the server sees another machine): 'signed in', 'wrong' (the form again)
 * or 'refused' (429). Node's http, since fetch cannot pick its source address. */
export async function formSignIn({ issuer, from, username, password }) {
  const { request } = await import('node:http');
  const cookies = new Map();
  const send = (path, method = 'GET', body = null) => new Promise((resolve, reject) => {
    const u = new URL(path, issuer);
    const headers = {};
    if (cookies.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = Buffer.byteLength(body);
      headers.origin = issuer;
    }
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, localAddress: from }, (res) => {
      for (const c of res.headers['set-cookie'] ?? []) {
        const [kv] = c.split(';');
        const i = kv.indexOf('=');
        cookies.set(kv.slice(0, i).trim(), kv.slice(i + 1).trim());
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text, cookies: res.headers['set-cookie'] ?? [] }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
  const page = await send('/login');
  const csrf = hidden(page.text, 'csrf');
  if (!csrf) throw new Error(`no login form from ${issuer}: ${page.status}`);
  const r = await send('/login', 'POST', new URLSearchParams({ username, password, csrf }).toString());
  if (r.status === 429) return 'refused';
  if (r.status === 200 && r.cookies.some((c) => c.startsWith('lk_session'))) return 'signed in';
  if (r.status === 200) return 'wrong';
  throw new Error(`sign-in from ${from} answered ${r.status}`);
}
