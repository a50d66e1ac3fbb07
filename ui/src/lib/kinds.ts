// The client wizard's application kinds: for each, the grants and client
// authentication the kind needs, and why — in the words the wizard shows.

export type KindId = 'web' | 'spa' | 'native' | 'device' | 'machine';

export const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';

/** Reserved to latchkey-console and clients marked as admin tools: never offered here. */
export const ADMIN_SCOPES = ['latchkey:admin', 'latchkey:admin:read'];
export const isAdminScope = (s: string) => ADMIN_SCOPES.includes(s);

/** Scopes that stand for a user (OIDC Core §5.4, §11): nothing to a machine client. */
export const USER_SCOPES = ['openid', 'profile', 'email', 'address', 'phone', 'offline_access'];

export interface AppKind {
  id: KindId;
  title: string;
  examples: string;
  client_type: 'confidential' | 'public';
  auth_method: string;
  grant_types: string[];
  /** Whether users sign in (redirect URIs needed). */
  redirects: 'web' | 'loopback' | 'none';
  default_redirect: string;
  scopes: string[];
  why: string[];
}

export const KINDS: AppKind[] = [
  {
    id: 'web',
    title: 'Web app with a backend',
    examples: 'a server-rendered site, a backend-for-frontend',
    client_type: 'confidential',
    auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token'],
    redirects: 'web',
    default_redirect: 'https://app.example.com/callback',
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    why: [
      'The backend can keep a secret, so the client proves who it is with one (client_secret_basic).',
      'Users sign in with the authorization code flow; the browser only sees a one-time code, which the backend exchanges with PKCE.',
      'A refresh token lets the backend keep the session without asking the user again; it rotates on every use.',
    ],
  },
  {
    id: 'spa',
    title: 'Single-page app',
    examples: 'React, Svelte or Vue running in the browser',
    client_type: 'public',
    auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    redirects: 'web',
    default_redirect: 'https://app.example.com/callback',
    scopes: ['openid', 'profile', 'email'],
    why: [
      'Code in a browser cannot keep a secret, so this is a public client (no client authentication).',
      'PKCE protects the authorization code instead: only the tab that started the sign-in can redeem it.',
      'Refresh tokens rotate on every use, so a stolen one is detected the moment both copies are used.',
      'Its pages call the token endpoint from JavaScript, so the server answers CORS for the app’s web origins (by default those of its redirect URIs); browsers refuse every other page.',
    ],
  },
  {
    id: 'native',
    title: 'Native or desktop app',
    examples: 'a desktop program, a CLI, a mobile app',
    client_type: 'public',
    auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    redirects: 'loopback',
    default_redirect: 'http://127.0.0.1/callback',
    scopes: ['openid', 'profile', 'offline_access'],
    why: [
      'An installed app cannot keep a secret either: anyone can read it out of the binary.',
      'The sign-in opens the system browser and comes back to a loopback redirect (RFC 8252); any port is accepted on 127.0.0.1.',
      'PKCE binds the code to the app instance that asked for it.',
    ],
  },
  {
    id: 'device',
    title: 'TV or input-limited device',
    examples: 'a smart TV, a console, a CLI on a headless server',
    client_type: 'public',
    auth_method: 'none',
    grant_types: [DEVICE_CODE, 'refresh_token'],
    redirects: 'none',
    default_redirect: '',
    scopes: ['openid', 'profile', 'offline_access'],
    why: [
      'The device shows a short code; the user confirms it on their phone or computer (Device Authorization Grant, RFC 8628).',
      'No browser on the device and no redirect URI are needed.',
      'The device cannot keep a secret, so it is a public client.',
    ],
  },
  {
    id: 'machine',
    title: 'Machine to machine',
    examples: 'a backend job, a service calling an API',
    client_type: 'confidential',
    auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    redirects: 'none',
    default_redirect: '',
    scopes: [],
    why: [
      'No user is involved: the service asks for a token for itself (client credentials, RFC 6749 §4.4).',
      'It runs on a server, so it can keep a secret and authenticate with it.',
      'No refresh token: it simply asks for a new access token when the old one expires.',
    ],
  },
];

export function kindById(id: KindId): AppKind {
  const k = KINDS.find((k) => k.id === id);
  if (!k) throw new Error(`unknown application kind ${id}`);
  return k;
}

/** Best guess of a client's kind from its settings (for display and cloning). */
export function kindOf(c: { client_type: string; grant_types: string[]; redirect_uris: string[] }): KindId {
  if (c.grant_types.includes('client_credentials') && !c.grant_types.includes('authorization_code')) return 'machine';
  if (c.grant_types.includes(DEVICE_CODE)) return 'device';
  if (c.client_type === 'confidential') return 'web';
  if (c.redirect_uris.some((u) => u.startsWith('http://127.0.0.1') || u.startsWith('http://[::1]') || !u.startsWith('http'))) return 'native';
  return 'spa';
}

/** What is wrong with the redirect URIs typed into the wizard, line by line, in words
 * (issue 12: commas and a second `://` are two URIs run together; RFC 6749 §3.1.2: an
 * absolute URI without a fragment; https except on loopback for web clients). Empty when
 * every line is fine. */
export function redirectProblems(text: string, kind: 'web' | 'loopback' | 'none'): string[] {
  if (kind === 'none') return [];
  const out: string[] = [];
  for (const line of text.split(/\n/).map((l) => l.trim()).filter(Boolean)) {
    const shown = line.length > 60 ? `${line.slice(0, 57)}…` : line;
    if (line.includes(',')) { out.push(`“${shown}” has a comma: put one URI per line`); continue; }
    if (/\s/.test(line)) { out.push(`“${shown}” has a space: put one URI per line`); continue; }
    if (line.indexOf('://') !== line.lastIndexOf('://')) { out.push(`“${shown}” has :// inside its path: two URIs run together?`); continue; }
    let u: URL;
    try { u = new URL(line); } catch { out.push(`“${shown}” is not an absolute URI (scheme://host/path)`); continue; }
    if (u.hash || line.includes('#')) out.push(`“${shown}” has a fragment (#…), which redirect URIs may not have`);
    const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname);
    if (kind === 'web' && u.protocol === 'http:' && !loopback) out.push(`“${shown}” must use https (http is accepted on loopback only)`);
    if (kind === 'loopback' && u.protocol === 'http:' && !loopback) out.push(`“${shown}” is http but not loopback: use http://127.0.0.1/… or a private-use scheme`);
  }
  return out;
}

/** The web origins (RFC 6454) of http(s) redirect URIs, as the server derives a
 * browser app's CORS origins when none are set (a custom scheme has no web origin). */
export function originsOf(redirects: string[]): string[] {
  const out: string[] = [];
  for (const r of redirects) {
    try {
      const u = new URL(r);
      if ((u.protocol === 'http:' || u.protocol === 'https:') && !out.includes(u.origin)) out.push(u.origin);
    } catch { /* not a URL: the redirect checks say so */ }
  }
  return out;
}

/** What is wrong with origins typed one per line: each must be exactly an origin
 * (scheme://host[:port], no path, query or fragment), as a browser sends it in `Origin`. */
export function originProblems(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\n/).map((l) => l.trim()).filter(Boolean)) {
    const shown = line.length > 60 ? `${line.slice(0, 57)}…` : line;
    let u: URL;
    try { u = new URL(line); } catch { out.push(`“${shown}” is not an origin (https://app.example.com)`); continue; }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') { out.push(`“${shown}” is not a web origin (http or https)`); continue; }
    if (line.replace(/\/$/, '') !== u.origin) out.push(`“${shown}” has a path, query or fragment: an origin is only scheme://host[:port] (${u.origin})`);
  }
  return out;
}
