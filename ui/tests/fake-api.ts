// An in-memory AdminApi for component tests (the one place a fake backend is allowed):
// it records calls and answers from plain arrays.
import type { AdminApi } from '../src/lib/api';
import { ApiError } from '../src/lib/api';
import type * as T from '../src/lib/types';
import type { Shell } from '../src/lib/context';

export const NOW = Math.floor(Date.now() / 1000);

export function client(over: Partial<T.ClientDto> = {}): T.ClientDto {
  return {
    client_id: 'c-' + Math.random().toString(36).slice(2, 8), name: 'App', client_type: 'confidential',
    auth_method: 'client_secret_basic', grant_types: ['authorization_code', 'refresh_token'],
    redirect_uris: ['https://app.example/cb'], post_logout_redirect_uris: [], allowed_scopes: ['openid'],
    jwks: null, jwks_uri: null, access_token_ttl: 600, refresh_token_ttl: 86400, refresh_idle_ttl: 3600,
    refresh_grace_secs: 0, require_consent: true, require_pushed_authorization_requests: false, registered: false, admin_tool: false, disabled: false, builtin: false, tokens_valid_after: 0, created_at: NOW, updated_at: NOW,
    ...over,
  };
}

export function session(i: number, over: Partial<T.SessionDto> = {}): T.SessionDto {
  return {
    id: `s${i}`, user_id: `u${i % 50}`, username: `user${i % 50}`, client_id: `c${i % 7}`, client_name: `Client ${i % 7}`,
    scopes: ['openid'], auth_time: NOW - 60, created_at: NOW - 60, last_used_at: NOW - 5, expires_at: NOW + 3600,
    ip: `10.0.${i % 250}.1`, user_agent: null, revoked_at: null, revoked_reason: null, live_access_tokens: 2, live_refresh_tokens: 1, unfamiliar: false,
    ...over,
  };
}

export type Calls = { name: string; args: unknown[] }[];

/** The server's built-in defaults, as `GET /admin/v1/settings` reports them. */
export const SETTING_DEFAULTS: Record<string, number> = {
  access_token_ttl: 600, refresh_token_ttl: 2592000, refresh_idle_ttl: 604800, code_ttl: 60, id_token_ttl: 600,
  device_code_ttl: 600, sign_in_ttl: 28800, rotate_every: 2592000, prepublish: 3600, retire_after: 86400,
  login_max_failures: 10, login_window: 300, login_block: 30, client_auth_max_failures: 20, client_auth_window: 60,
  client_auth_block: 30, device_code_max_failures: 5, device_code_window: 60, device_code_block: 60,
  detect_brute_force_mode: 1, detect_brute_force_failures: 10, detect_brute_force_window: 900, detect_brute_force_severity: 2, detect_spray_mode: 1, detect_spray_usernames: 10, detect_spray_window: 600, detect_spray_severity: 3, detect_client_guess_mode: 1, detect_client_guess_failures: 5, detect_client_guess_clients: 3, detect_client_guess_window: 300, detect_client_guess_severity: 3, detect_block: 900, detect_wave_mode: 1, detect_wave_min_failures: 50, detect_wave_factor: 5, detect_baseline_days: 7, detect_wave_severity: 3, detect_unfamiliar_mode: 1, detect_unfamiliar_history: 20, detect_unfamiliar_min_history: 5, detect_unfamiliar_severity: 1, detect_refresh_reuse_mode: 1, detect_refresh_reuse_severity: 3, detect_mint_mode: 1, detect_mint_min_per_minute: 100, detect_mint_factor: 3, detect_mint_severity: 2, detect_token_replay_mode: 1, detect_token_scan_invalid: 50, detect_token_scan_window: 300, detect_token_replay_severity: 3, detect_hygiene_mode: 1, detect_hygiene_secret_age: 7776000, detect_hygiene_severity: 1, retain_sessions: 2592000, retain_signins: 7776000, retain_audit: 31536000,
};

/** Settings with `admin` values laid over the defaults. */
export function settingsDto(admin: Record<string, number> = {}, updatedAt: number | null = null): T.SettingsDto {
  const out: Record<string, unknown> = { updated_at: updatedAt };
  for (const [name, def] of Object.entries(SETTING_DEFAULTS)) {
    out[name] = name in admin ? { value: admin[name], default: def, source: 'admin' } : { value: def, default: def, source: 'default' };
  }
  return out as unknown as T.SettingsDto;
}

function user(username: string): T.UserDto {
  return { id: `id-${username}`, username, email: null, email_verified: false, name: null, disabled: false, is_admin: false, password_changed_at: NOW, created_at: NOW };
}

export function fakeApi(data: {
  clients?: T.ClientDto[]; sessions?: T.SessionDto[]; keys?: T.KeyDto[]; audit?: T.AuditEventDto[];
  scopes?: T.ScopeDto[]; inspection?: T.Inspection; status?: Partial<T.ConsoleStatus>; password?: string | null;
  connections?: T.ConnectionDto[]; tryResult?: T.ClientTryResult; users?: T.UserDto[];
  settings?: Record<string, number>; impact?: Partial<T.ClientImpactDto>;
  /** Database files that exist (an embedded add of another path without `create` is
   * refused as the shell refuses it). */
  files?: string[];
  policies?: T.ExchangePolicyDto[]; explain?: T.ExchangeExplainDto;
  findings?: T.FindingDto[]; blocks?: T.BlockDto[]; profile?: Partial<T.SecurityProfileDto>;
  webhooks?: T.WebhookDto[]; webhookTest?: T.WebhookTestDto;
  registrationTokens?: T.RegistrationTokenDto[];
  /** The connected server's configuration document and the plan a file gets. */
  configYaml?: string; configPlan?: T.ConfigPlanDto;
} = {}): { api: AdminApi; calls: Calls } {
  const webhooks: T.WebhookDto[] = [...(data.webhooks ?? [])];
  const registrationTokens: T.RegistrationTokenDto[] = [...(data.registrationTokens ?? [])];
  const users: T.UserDto[] = data.users ?? [];
  const policies: T.ExchangePolicyDto[] = [...(data.policies ?? [])];
  const findings: T.FindingDto[] = (data.findings ?? []).map((f) => ({ ...f }));
  let blocks: T.BlockDto[] = [...(data.blocks ?? [])];
  const calls: Calls = [];
  let password = data.password ?? null;
  const rec = <R>(name: string, args: unknown[], r: R | (() => R)): Promise<R> => {
    calls.push({ name, args });
    try {
      return Promise.resolve(typeof r === 'function' ? (r as () => R)() : r);
    } catch (e) {
      return Promise.reject(e);
    }
  };
  const clients = data.clients ?? [];
  const connections: T.ConnectionDto[] = data.connections ?? [
    { id: 'local', name: 'latchkey.db', colour: 'green', kind: 'embedded', location: '/tmp/latchkey.db', issuer: null, auth: null, active: true, signed_in: false },
  ];
  let status: T.ConsoleStatus = {
    state: 'ready', kind: 'embedded', connection_id: 'local', name: 'latchkey.db', colour: 'green', db_path: '/tmp/latchkey.db',
    server: null, issuer: 'http://127.0.0.1:9280', port: 9280, credential_store: null, error: null,
    first_admin_pending: password ? 'admin' : null, version: '0.1.0', ...data.status,
  };
  const activate = (c: T.ConnectionDto): T.ConsoleStatus => {
    for (const x of connections) x.active = x.id === c.id;
    const remote = c.kind === 'remote';
    status = {
      ...status, kind: c.kind, connection_id: c.id, name: c.name, colour: c.colour,
      db_path: remote ? '' : c.location, server: remote ? c.location : null,
      issuer: remote ? 'https://id.example.com' : 'http://127.0.0.1:9280', port: remote ? 0 : 9280,
      credential_store: remote ? 'memory' : null,
    };
    return status;
  };
  const adminSettings: Record<string, number> = { ...(data.settings ?? {}) };
  const api: AdminApi = {
    consoleStatus: () => rec('consoleStatus', [], () => ({ ...status })),
    connectionsList: () => rec('connectionsList', [], () => connections.map((c) => ({ ...c }))),
    connectionOpen: (id, apiKey) => rec('connectionOpen', [id, apiKey], () => {
      const c = connections.find((c) => c.id === id);
      if (!c) throw new ApiError('not_found', 'no such connection');
      if (c.kind === 'remote' && !c.signed_in && !apiKey) throw new ApiError('unauthorized', 'no API key is stored; enter it to connect');
      c.signed_in = c.kind === 'remote';
      return activate(c);
    }),
    connectionAdd: (req) => rec('connectionAdd', [req], () => {
      if (req.kind === 'remote' && req.auth === 'api_key' && req.api_key !== 'lk_good') throw new ApiError('unauthorized', 'the API key was refused');
      if (req.kind === 'embedded' && !req.create && !(data.files ?? []).includes(req.db_path ?? '')) {
        throw new ApiError('not_found', `there is no database at ${req.db_path}`);
      }
      const c: T.ConnectionDto = {
        id: `c${connections.length}`, name: req.name, colour: req.colour, kind: req.kind,
        location: (req.kind === 'remote' ? req.server : req.db_path) ?? '', issuer: req.issuer ?? null,
        auth: req.auth ?? null, active: false, signed_in: req.kind === 'remote',
      };
      connections.push(c);
      return activate(c);
    }),
    connectionUpdate: (id, name, colour) => rec('connectionUpdate', [id, name, colour], () => {
      const c = connections.find((c) => c.id === id)!;
      if (name) c.name = name;
      if (colour) c.colour = colour;
      if (c.active) status = { ...status, name: c.name, colour: c.colour };
      return { ...c };
    }),
    connectionRemove: (id) => rec('connectionRemove', [id], () => {
      const i = connections.findIndex((c) => c.id === id);
      if (connections[i]?.active) throw new ApiError('conflict', 'this is the connection in use');
      const [c] = connections.splice(i, 1);
      return c.auth === 'browser' ? `Signed out of ${c.name}: the sign-in is revoked at the server.` : `Forgot ${c.name}.`;
    }),
    clientTry: (req) => rec('clientTry', [req], () => {
      if (!data.tryResult) throw new ApiError('invalid_input', 'enter the client secret');
      return data.tryResult;
    }),
    firstAdminPasswordTake: () => rec('firstAdminPasswordTake', [], () => { const p = password; password = null; return p; }),
    clientsList: () => rec('clientsList', [], () => [...clients]),
    clientGet: (id) => rec('clientGet', [id], () => { const c = clients.find((c) => c.client_id === id); if (!c) throw new ApiError('not_found', `no client ${id}`); return c; }),
    clientCreate: (req) => rec('clientCreate', [req], () => {
      const c = client({ name: req.name, client_type: req.client_type ?? 'confidential', auth_method: req.auth_method ?? 'client_secret_basic', grant_types: req.grant_types ?? [], redirect_uris: req.redirect_uris ?? [] });
      clients.push(c);
      return { ...c, client_secret: c.client_type === 'confidential' ? 'the-one-time-secret' : null };
    }),
    clientUpdate: (id, req) => rec('clientUpdate', [id, req], () => ({ ...clients.find((c) => c.client_id === id)!, ...req } as T.ClientDto)),
    clientDelete: (id) => rec('clientDelete', [id], () => {
      const i = clients.findIndex((c) => c.client_id === id);
      if (clients[i]?.builtin) throw new ApiError('builtin', 'the built-in client cannot be deleted');
      clients.splice(i, 1);
    }),
    clientRotateSecret: (id, req) => rec('clientRotateSecret', [id, req], { client_id: id, client_secret: 'rotated-secret', previous_secrets_expire_at: NOW + 86400 }),
    clientSetDisabled: (id, disabled) => rec('clientSetDisabled', [id, disabled], () => {
      const c = clients.find((c) => c.client_id === id)!;
      if (c.builtin && disabled) throw new ApiError('builtin', 'the built-in client cannot be disabled');
      c.disabled = disabled;
      return { ...c };
    }),
    clientImpactGet: (id) => rec('clientImpactGet', [id], () => {
      const c = clients.find((c) => c.client_id === id)!;
      return {
        client_id: id, name: c.name, builtin: c.builtin ?? false, disabled: c.disabled, sessions: 12, refresh_families: 9,
        live_access_tokens: 31, last_token_at: NOW - 120, tokens_last_hour: 240, ...data.impact,
      };
    }),
    clientClone: (id, req) => rec('clientClone', [id, req], () => ({ ...client({ name: req.name ?? 'copy' }), client_secret: 'clone-secret' })),
    scopesList: () => rec('scopesList', [], data.scopes ?? [
      { name: 'openid', description: 'Sign you in', claims: ['sub'], builtin: true, created_at: NOW },
      { name: 'profile', description: 'Your name', claims: ['name'], builtin: true, created_at: NOW },
    ]),
    scopeCreate: (req) => rec('scopeCreate', [req], { name: req.name ?? '', description: req.description ?? '', claims: req.claims ?? [], builtin: false, created_at: NOW }),
    scopeDelete: (name) => rec('scopeDelete', [name], undefined),
    usersList: () => rec('usersList', [], () => users.map((u) => ({ ...u }))),
    userGet: (id) => rec('userGet', [id], user(id)),
    userCreate: (req) => rec('userCreate', [req], () => {
      if ((req.password ?? '').length < 8) throw new ApiError('invalid_input', 'password must be at least 8 characters');
      const u = { ...user(req.username ?? 'u'), is_admin: !!req.is_admin, name: req.name ?? null };
      users.push(u);
      return u;
    }),
    userDisable: (id) => rec('userDisable', [id], () => { const u = users.find((u) => u.id === id)!; u.disabled = true; return { ...u }; }),
    userEnable: (id) => rec('userEnable', [id], () => { const u = users.find((u) => u.id === id)!; u.disabled = false; return { ...u }; }),
    userUpdate: (id, req) => rec('userUpdate', [id, req], () => {
      const u = users.find((u) => u.id === id)!;
      if (req.is_admin === false && u.is_admin && !users.some((o) => o.id !== id && o.is_admin && !o.disabled)) {
        throw new ApiError('conflict', `${u.username} is the last enabled administrator: make someone else an administrator first`);
      }
      if (req.name != null) u.name = req.name || null;
      if (req.email != null) u.email = req.email || null;
      if (req.is_admin != null) u.is_admin = req.is_admin;
      return { ...u };
    }),
    userPasswordSet: (id, req) => rec('userPasswordSet', [id, req], () => {
      const u = users.find((u) => u.id === id)!;
      u.password_changed_at = NOW;
      u.must_change_password = !!req.must_change_password;
      return { user: { ...u }, password: req.password ? null : 'generated-password-24chars' };
    }),
    userImpactGet: (id) => rec('userImpactGet', [id], () => {
      const u = users.find((u) => u.id === id)!;
      const lastAdmin = u.is_admin && !u.disabled && !users.some((o) => o.id !== id && o.is_admin && !o.disabled);
      return { user: { ...u }, sessions: u.live_sessions ?? 0, refresh_families: 1, live_access_tokens: 3, last_sign_in_at: u.last_sign_in_at ?? null, last_admin: lastAdmin };
    }),
    userDelete: (id) => rec('userDelete', [id], () => {
      const i = users.findIndex((u) => u.id === id);
      const u = users[i];
      if (u.is_admin && !users.some((o) => o.id !== id && o.is_admin && !o.disabled)) {
        throw new ApiError('conflict', `${u.username} is the last enabled administrator: make someone else an administrator first`);
      }
      users.splice(i, 1);
    }),
    keysList: () => rec('keysList', [], data.keys ?? []),
    keysRotate: (req) => rec('keysRotate', [req], [{ alg: 'ES256', previous_kid: 'k-old', active_kid: 'k-new' }]),
    keyRevoke: (kid) => rec('keyRevoke', [kid], { kid, alg: 'ES256', previous_state: 'active', active_kid: 'k-next' }),
    keysScheduleGet: () => rec('keysScheduleGet', [], { rotate_every: 86400 * 30, prepublish: 86400, retire_after: 86400, algorithms: [] }),
    jwksGet: () => rec('jwksGet', [], { keys: [] }),
    sessionsList: (f) => rec('sessionsList', [f], () => {
      // Keyset pages of `limit`, the cursor being the next offset.
      const all = (data.sessions ?? []).filter((s) => (!f.user || s.user_id === f.user || s.username === f.user) && (!f.client_id || s.client_id === f.client_id));
      const from = Number(f.cursor ?? 0);
      const n = f.limit ?? 100;
      const items = all.slice(from, from + n);
      return { items, next_cursor: from + n < all.length ? String(from + n) : null };
    }),
    sessionGet: (id) => rec('sessionGet', [id], (data.sessions ?? []).find((s) => s.id === id)!),
    sessionRevoke: (id) => rec('sessionRevoke', [id], { revoked: 1 }),
    sessionsRevoke: (req) => rec('sessionsRevoke', [req], () => {
      const ss = (data.sessions ?? []).filter((s) => req.session_ids?.includes(s.id) || (req.user != null && (s.user_id === req.user || s.username === req.user)) || s.client_id === req.client_id);
      return {
        sessions: ss.length,
        refresh_families: ss.reduce((n, s) => n + s.live_refresh_tokens, 0),
        live_access_tokens: ss.reduce((n, s) => n + s.live_access_tokens, 0),
        dry_run: !!req.dry_run,
      };
    }),
    tokenInspect: (t) => rec('tokenInspect', [t], () => { if (!data.inspection) throw new ApiError('invalid_input', 'paste a token'); return data.inspection; }),
    tokenIntrospect: (req) => rec('tokenIntrospect', [req], { active: true }),
    tokenRevoke: (req) => rec('tokenRevoke', [req], { revoked: 1 }),
    auditList: (f) => rec('auditList', [f], { items: data.audit ?? [], next_cursor: null }),
    securityEventsList: (f) => rec('securityEventsList', [f], { items: (data.audit ?? []).filter((e) => e.security), next_cursor: null }),
    statsGet: (req) => rec('statsGet', [req], { window_minutes: 60, tokens_per_minute: [], active_sessions: (data.sessions ?? []).length, clients: clients.length, users: 1, failed_authentications: 0, security_events: [] }),
    healthGet: () => rec('healthGet', [], { status: 'ok', version: '0.1.0', time: NOW }),
    eventsSubscribe: (afterId, onEvent) => rec('eventsSubscribe', [afterId, onEvent], undefined),
    apiKeysList: () => rec('apiKeysList', [], []),
    apiKeyCreate: (req) => rec('apiKeyCreate', [req], { id: 'k1', name: req.name ?? '', read_only: !!req.read_only, created_at: NOW, created_by: 'local-admin', api_key: 'lk_secret' }),
    apiKeyRevoke: (id) => rec('apiKeyRevoke', [id], { id, name: 'k', read_only: false, created_at: NOW, created_by: 'local-admin', revoked_at: NOW }),
    settingsGet: () => rec('settingsGet', [], () => settingsDto(adminSettings)),
    // Like the server: one bad value refuses the whole change and stores nothing.
    settingsUpdate: (req) => rec('settingsUpdate', [req], () => {
      for (const [name, v] of Object.entries(req)) {
        if (name === 'code_ttl' && typeof v === 'number' && (v < 10 || v > 600)) {
          throw new ApiError('invalid_input', 'code_ttl must be between 10 and 600 seconds');
        }
      }
      for (const [name, v] of Object.entries(req)) {
        if (v === null) delete adminSettings[name];
        else if (typeof v === 'number') adminSettings[name] = v;
      }
      return settingsDto(adminSettings, NOW);
    }),
    exchangePoliciesList: () => rec('exchangePoliciesList', [], () => [...policies]),
    exchangePolicyGet: (id) => rec('exchangePolicyGet', [id], () => {
      const p = policies.find((p) => p.id === id);
      if (!p) throw new ApiError('not_found', `no exchange policy ${id}`);
      return p;
    }),
    // Like the server: a target is required and the admin scopes never pass.
    exchangePolicyCreate: (req) => rec('exchangePolicyCreate', [req], () => {
      if (!req.targets || req.targets.length === 0) {
        throw new ApiError('invalid_input', 'targets: name at least one audience or resource the new tokens are for');
      }
      if ((req.scopes ?? []).some((s) => s.startsWith('latchkey:admin'))) {
        throw new ApiError('invalid_input', 'the admin scopes can never be passed on by an exchange');
      }
      const p: T.ExchangePolicyDto = {
        id: `xp_${policies.length + 1}`, enabled: req.enabled ?? true, note: req.note ?? '',
        requester_client_id: req.requester_client_id ?? '', subject_client_ids: req.subject_client_ids ?? [],
        subject_token_types: req.subject_token_types ?? ['access_token'],
        requester_must_be_in_subject_aud: req.requester_must_be_in_subject_aud ?? true,
        targets: req.targets, scopes: req.scopes ?? [], mode: req.mode ?? 'impersonation',
        actor_client_ids: req.actor_client_ids ?? [], max_ttl_secs: req.max_ttl_secs ?? 300,
        issued_token_types: req.issued_token_types ?? ['access_token'], max_act_depth: req.max_act_depth ?? 3,
        created_at: NOW, updated_at: NOW,
      };
      policies.push(p);
      return p;
    }),
    exchangePolicyUpdate: (id, req) => rec('exchangePolicyUpdate', [id, req], () => {
      const i = policies.findIndex((p) => p.id === id);
      if (i < 0) throw new ApiError('not_found', `no exchange policy ${id}`);
      const defined = Object.fromEntries(Object.entries(req).filter(([, v]) => v !== undefined && v !== null));
      policies[i] = { ...policies[i], ...defined, updated_at: NOW } as T.ExchangePolicyDto;
      return policies[i];
    }),
    exchangePolicyDelete: (id) => rec('exchangePolicyDelete', [id], () => {
      const i = policies.findIndex((p) => p.id === id);
      if (i < 0) throw new ApiError('not_found', `no exchange policy ${id}`);
      policies.splice(i, 1);
    }),
    exchangePolicyExplain: (req) => rec('exchangePolicyExplain', [req], () => data.explain ?? {
      allowed: false, policy_id: null, error: 'unauthorized_client', error_description: 'the client may not exchange tokens',
      rule: 'policy.none_for_requester', detail: 'no enabled policy names this client as requester',
      subject: null, actor: null, policies: [], issued_token_type: null, token_type: null, expires_in: null,
      audience: null, scopes: [], claims: null,
    }),
    findingsList: (f) => rec('findingsList', [f], () => findings
      .filter((x) => (!f.severity || x.severity === f.severity) && (!f.rule || x.rule === f.rule))
      .map((x) => ({ ...x }))),
    findingGet: (id) => rec('findingGet', [id], () => {
      const x = findings.find((y) => y.id === id);
      if (!x) throw new ApiError('not_found', `no finding ${id}`);
      return { ...x };
    }),
    findingAck: (id) => rec('findingAck', [id], () => {
      const x = findings.find((y) => y.id === id);
      if (!x) throw new ApiError('not_found', `no finding ${id}`);
      if (x.status === 'open') Object.assign(x, { status: 'acknowledged', acknowledged_by: 'local-admin', acknowledged_at: NOW });
      return { ...x };
    }),
    blocksList: () => rec('blocksList', [], () => blocks.map((b) => ({ ...b }))),
    blockAdd: (req) => rec('blockAdd', [req], () => {
      const b: T.BlockDto = { address: req.address ?? '', principal: null, reason: req.reason ?? 'manual', created_by: 'local-admin', created_at: NOW, expires_at: req.expires_in != null ? NOW + req.expires_in : null };
      blocks = [...blocks.filter((x) => x.address !== b.address || x.principal), b];
      return b;
    }),
    blockRemove: (req) => rec('blockRemove', [req], () => {
      blocks = blocks.filter((x) => x.address !== req.address);
    }),
    securityProfileGet: (q) => rec('securityProfileGet', [q], () => ({
      kind: q.kind ?? 'address', subject: q.subject ?? '', since: NOW - 7 * 86400, failures: 0, successes: 0,
      distinct_users: 0, distinct_addresses: 0, first_seen: null, last_seen: null,
      findings: findings.filter((f) => f.subject === q.subject), blocks: blocks.filter((b) => b.address === q.subject),
      timeline: [], truncated: false, ...data.profile,
    })),
    webhooksList: () => rec('webhooksList', [], () => [...webhooks]),
    // Like the server: https only (loopback http aside), a name, known severities.
    webhookCreate: (req) => rec('webhookCreate', [req], () => {
      const url = req.url ?? '';
      if (!url.startsWith('https://') && !url.startsWith('http://127.0.0.1')) {
        throw new ApiError('invalid_input', 'webhook URL: webhooks are delivered over https:// only');
      }
      if (!(req.name ?? '').trim()) throw new ApiError('invalid_input', 'a webhook needs a name of 1 to 100 printable characters');
      for (const s of req.severities ?? []) {
        if (!['low', 'medium', 'high', 'critical'].includes(s)) throw new ApiError('invalid_input', `"${s}" is not a severity`);
      }
      const w: T.WebhookDto = {
        id: `wh_${webhooks.length + 1}`, name: req.name ?? '', url, severities: req.severities ?? [], rules: req.rules ?? [],
        enabled: req.enabled ?? true, created_at: NOW, created_by: 'local-admin', updated_at: NOW,
        last_success_at: null, last_failure_at: null, last_failure_reason: null, consecutive_failures: 0, pending: 0,
      };
      webhooks.push(w);
      return { ...w, secret: 'whsec_c2VjcmV0' };
    }),
    webhookGet: (id) => rec('webhookGet', [id], () => {
      const w = webhooks.find((w) => w.id === id);
      if (!w) throw new ApiError('not_found', `no webhook ${id}`);
      return w;
    }),
    webhookUpdate: (id, req) => rec('webhookUpdate', [id, req], () => {
      const i = webhooks.findIndex((w) => w.id === id);
      if (i < 0) throw new ApiError('not_found', `no webhook ${id}`);
      const defined = Object.fromEntries(Object.entries(req).filter(([, v]) => v !== undefined && v !== null));
      webhooks[i] = { ...webhooks[i], ...defined, updated_at: NOW } as T.WebhookDto;
      return webhooks[i];
    }),
    webhookDelete: (id) => rec('webhookDelete', [id], () => {
      const i = webhooks.findIndex((w) => w.id === id);
      if (i < 0) throw new ApiError('not_found', `no webhook ${id}`);
      webhooks.splice(i, 1);
    }),
    webhookTest: (id) => rec('webhookTest', [id], () => data.webhookTest ?? { delivered: true, status: 204, error: null }),
    backupCreate: (req) => rec('backupCreate', [req], () => ({ path: req.path, bytes: 98304, schema_version: 15, kek_location: 'in /data/latchkey.db.kek' })),
    registrationTokensList: () => rec('registrationTokensList', [], () => [...registrationTokens]),
    // Like the server: no admin scope, a lifetime from 60 s to a year.
    registrationTokenCreate: (req) => rec('registrationTokenCreate', [req], () => {
      if ((req.scopes ?? []).some((s) => s.startsWith('latchkey:admin'))) {
        throw new ApiError('invalid_input', 'the admin scopes are reserved to the console and admin tools');
      }
      const ttl = req.expires_in ?? 86400;
      if (ttl < 60 || ttl > 365 * 86400) throw new ApiError('invalid_input', 'an initial access token lives from 60 s to a year');
      const t: T.RegistrationTokenDto = {
        id: `rt_${registrationTokens.length + 1}`,
        grant_types: req.grant_types?.length ? req.grant_types : ['authorization_code', 'refresh_token'],
        scopes: req.scopes?.length ? req.scopes : ['openid', 'profile', 'email', 'offline_access'],
        redirect_uri_prefixes: req.redirect_uri_prefixes ?? [], uses_left: req.uses ?? null, registered: 0,
        created_at: NOW, created_by: 'local-admin', expires_at: NOW + ttl, revoked_at: null,
      };
      registrationTokens.unshift(t);
      return { ...t, token: 'lkreg_c2VjcmV0' };
    }),
    registrationTokenRevoke: (id) => rec('registrationTokenRevoke', [id], () => {
      const t = registrationTokens.find((x) => x.id === id);
      if (!t) throw new ApiError('not_found', `no initial access token ${id}`);
      t.revoked_at = t.revoked_at ?? NOW;
    }),
    configExport: () => rec('configExport', [], () => ({ yaml: data.configYaml ?? 'version: 1\n', fingerprint: 'f'.repeat(64) })),
    // Like the server: a file that does not parse is refused with its path.
    configPlan: (req) => rec('configPlan', [req], () => {
      const f = req.files?.[0];
      if (!f || !/^version:/m.test(f.yaml)) throw new ApiError('invalid_input', `${f?.name ?? 'file'}: version: missing (write \`version: 1\` at the top)`);
      return data.configPlan ?? { changes: [], skipped: [], notes: [], drift: { last_applied_at: null, last_applied_by: null, drifted: false }, plan_id: 'p'.repeat(64), fingerprint: 'f'.repeat(64) };
    }),
    configApply: (req) => rec('configApply', [req], () => ({
      plan: data.configPlan ?? { changes: [], skipped: [], notes: [], drift: { last_applied_at: null, last_applied_by: null, drifted: false }, plan_id: 'p'.repeat(64), fingerprint: 'f'.repeat(64) },
      applied: false,
    })),
  };
  return { api, calls };
}

export function fakeShell(): Shell & { went: string[]; guards: Set<() => string | null> } {
  const went: string[] = [];
  const guards = new Set<() => string | null>();
  return {
    status: null, went, guards, go: (p) => went.push(p), inspect: (t) => went.push(`tokens:${t}`),
    guard: (check) => { guards.add(check); return () => guards.delete(check); },
  };
}

export async function settle(ms = 0): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
  await Promise.resolve();
}
