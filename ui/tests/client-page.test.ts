// Issue 12, the daily work: a client's own page (settings, credentials, sessions,
// recent activity) with an editor that matches the wizard; a created client's
// configuration and highlighted row; names instead of ids in the inspector and the
// audit log, each linking to its object.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushSync, mount, unmount, type Component } from 'svelte';
import { contextFor, type PageId } from '../src/lib/context';
import { secretsStore } from '../src/lib/secrets.svelte';
import { client, fakeApi, fakeShell, session, settle, NOW } from './fake-api';
import { discoveryUrl, envSnippet, openidClientSnippet } from '../src/lib/setup';
import { namesFrom, placeOf, targetOf } from '../src/lib/names';
import Clients from '../src/pages/Clients.svelte';
import ClientEdit from '../src/pages/ClientEdit.svelte';
import Audit from '../src/pages/Audit.svelte';
import Tokens from '../src/pages/Tokens.svelte';
import Sessions from '../src/pages/Sessions.svelte';
import type * as T from '../src/lib/types';

let mounted: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
  vi.useRealTimers();
});

const ISSUER = 'http://127.0.0.1:9280';
const $ = <E extends HTMLElement = HTMLElement>(sel: string) => document.querySelector<E>(sel);
const $$ = (sel: string) => [...document.querySelectorAll<HTMLElement>(sel)];
function click(el: Element | null | undefined) {
  if (!el) throw new Error('nothing to click');
  (el as HTMLElement).click();
  flushSync();
}
function type(sel: string, value: string) {
  const el = $<HTMLInputElement>(sel);
  if (!el) throw new Error(`no ${sel}`);
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  flushSync();
}
const button = (text: string) => $$('button').find((b) => b.textContent?.trim() === text);

function shellWithIssuer() {
  const shell = fakeShell();
  const went: [PageId, string | undefined][] = [];
  shell.go = (p, arg) => { went.push([p, arg]); };
  shell.status = { state: 'ready', kind: 'embedded', connection_id: 'local', name: 'dev', colour: 'green', db_path: '/tmp/x.db', server: null, issuer: ISSUER, port: 9280, credential_store: null, error: null, first_admin_pending: null, version: '0.1.0' } as T.ConsoleStatus;
  return { shell, went };
}

async function show(page: unknown, props: Record<string, unknown>, api: ReturnType<typeof fakeApi>['api'], shell = shellWithIssuer().shell, secrets = secretsStore()) {
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted = mount(page as Component<Record<string, unknown>>, { target, props, context: contextFor(api, shell, secrets) });
  await settle(); flushSync();
  await settle(); flushSync();
  return target;
}

const billing = () => client({
  client_id: 'c-billing', name: 'Billing', redirect_uris: ['https://billing.example/cb'], allowed_scopes: ['openid', 'profile'],
  post_logout_redirect_uris: ['https://billing.example/bye'], access_token_ttl: 600, refresh_token_ttl: 86400, refresh_idle_ttl: 3600,
});

describe("a client's own page", () => {
  it('opens from the name in the Clients table and from the row\'s primary action', async () => {
    const { api } = fakeApi({ clients: [billing()] });
    const { shell, went } = shellWithIssuer();
    await show(Clients, {}, api, shell);
    click($('[data-testid=client-name-link]'));
    click($('[data-testid=open-client]'));
    expect(went).toEqual([['clients', 'c-billing'], ['clients', 'c-billing']]);
  });

  it('shows settings, credentials, configuration, live sessions of that client only and its recent activity', async () => {
    const { api, calls } = fakeApi({
      clients: [billing()],
      users: [{ id: 'u-1', username: 'alice', email: null, email_verified: false, name: null, disabled: false, is_admin: true, password_changed_at: NOW, created_at: NOW }],
      sessions: [session(1, { client_id: 'c-billing', username: 'bob' }), session(2, { client_id: 'c-other', username: 'carol' })],
      audit: [{ id: 7, at: NOW - 30, actor: 'user:u-1', action: 'client.update', target: 'c-billing', before: null, after: null, ip: null, security: false }],
    });
    await show(Clients, { open: 'c-billing' }, api);
    expect($('[data-testid=client-title]')!.textContent).toBe('Billing');
    const settings = $('[data-testid=client-settings]')!.textContent!;
    expect(settings).toContain('https://billing.example/cb');
    expect(settings).toContain('https://billing.example/bye');
    expect(settings).toContain('10 min');
    expect($('[data-testid=client-credentials]')!.textContent).toContain('client_secret_basic');
    expect($('[data-testid=setup-discovery]')!.textContent).toBe(`${ISSUER}/.well-known/openid-configuration`);
    // The sessions are asked for by client; only that client's are listed.
    expect(calls.find((c) => c.name === 'sessionsList')!.args[0]).toMatchObject({ client_id: 'c-billing', state: 'active' });
    expect($$('[data-testid=client-session]').map((r) => r.textContent)).toEqual([expect.stringContaining('bob')]);
    // The activity is the audit log filtered by target, actors by name.
    expect(calls.find((c) => c.name === 'auditList')!.args[0]).toMatchObject({ target: 'c-billing' });
    expect($('[data-testid=client-event]')!.textContent).toContain('alice');
    expect(calls.some((c) => c.name === 'clientsList')).toBe(true); // names only
  });

  it('links its sessions and its activity to the filtered pages', async () => {
    const { api } = fakeApi({ clients: [billing()] });
    const { shell, went } = shellWithIssuer();
    await show(Clients, { open: 'c-billing' }, api, shell);
    click($('[data-testid=client-all-sessions]'));
    click($('[data-testid=client-all-activity]'));
    click($('[data-testid=back-to-clients]'));
    expect(went).toEqual([['sessions', 'client:c-billing'], ['audit', 'target:c-billing'], ['clients', undefined]]);
  });

  it('disables after the dry run and offers Undo, and never offers Disable or Delete on a built-in client', async () => {
    const { api, calls } = fakeApi({ clients: [billing(), client({ client_id: 'latchkey-console', name: 'Latchkey console', builtin: true })] });
    await show(Clients, { open: 'c-billing' }, api);
    click($('[data-testid=detail-disable]'));
    await settle(); flushSync();
    expect($('[data-testid=client-impact]')).not.toBeNull();
    click($('[data-testid=confirm-disable]'));
    await settle(); flushSync();
    expect(calls.some((c) => c.name === 'clientSetDisabled' && c.args[1] === true)).toBe(true);
    expect($('[data-testid=undo-bar]')).not.toBeNull();
    unmount(mounted!); mounted = null; document.body.innerHTML = '';
    await show(Clients, { open: 'latchkey-console' }, api);
    expect($('[data-testid=detail-disable]')).toBeNull();
    expect($('[data-testid=detail-delete]')).toBeNull();
  });

  it('rotates the secret into the shown-once dialog, not onto the page', async () => {
    const { api } = fakeApi({ clients: [billing()] });
    const secrets = secretsStore();
    await show(Clients, { open: 'c-billing' }, api, shellWithIssuer().shell, secrets);
    click($('[data-testid=detail-rotate]'));
    click($('[data-testid=confirm-rotate]'));
    await settle(); flushSync();
    expect(secrets.current?.fields.find((f) => f.secret)?.value).toBe('rotated-secret');
    expect(document.body.textContent).not.toContain('rotated-secret');
  });
});

describe('the client editor matches the wizard', () => {
  it('offers scopes as a checklist, lifetimes in units, grants, the authentication method, logout URIs and the grace', async () => {
    const c = billing();
    const { api, calls } = fakeApi({ clients: [c], scopes: [
      { name: 'openid', description: 'Sign you in', claims: [], builtin: true, created_at: NOW },
      { name: 'profile', description: 'Your name', claims: [], builtin: true, created_at: NOW },
      { name: 'orders', description: 'Orders', claims: [], builtin: false, created_at: NOW },
      { name: 'latchkey:admin', description: 'Admin', claims: [], builtin: true, created_at: NOW },
    ] });
    await show(ClientEdit, { client: c, onclose: () => {}, onsaved: () => {} }, api);
    const offered = $$('[data-testid=edit-scopes] input').map((i) => i.dataset.scope);
    expect(offered).toEqual(['openid', 'profile', 'orders']);
    click($('[data-scope=profile]'));
    click($('[data-scope=orders]'));
    // 600 s reads as 10 minutes; 2 hours is sent as 7200 s.
    expect($<HTMLInputElement>('[data-testid=edit-access-ttl]')!.value).toBe('10');
    const unit = $<HTMLSelectElement>('select[aria-label="Unit of access token lifetime"]')!;
    unit.value = '3600'; unit.dispatchEvent(new Event('change', { bubbles: true })); flushSync();
    type('[data-testid=edit-access-ttl]', '2');
    click($('[data-grant=client_credentials]'));
    const method = $<HTMLSelectElement>('[data-testid=edit-auth-method]')!;
    method.value = 'client_secret_post'; method.dispatchEvent(new Event('change', { bubbles: true })); flushSync();
    type('[data-testid=edit-logout-uris]', 'https://billing.example/bye\nhttps://billing.example/later');
    type('[data-testid=edit-grace]', '10');
    click($('[data-testid=edit-save-client]'));
    await settle();
    const upd = calls.filter((x) => x.name === 'clientUpdate').at(-1)!.args[1] as T.ClientUpdateRequest;
    expect(upd).toMatchObject({
      allowed_scopes: ['openid', 'orders'], access_token_ttl: 7200, auth_method: 'client_secret_post',
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      post_logout_redirect_uris: ['https://billing.example/bye', 'https://billing.example/later'], refresh_grace_secs: 10,
    });
    // Unchanged: not sent.
    expect('refresh_idle_ttl' in upd).toBe(false);
  });

  it('flags a comma and a :// inside a path in the URI fields, and a grace over 30 s, and keeps Save off', async () => {
    const c = billing();
    const { api } = fakeApi({ clients: [c] });
    await show(ClientEdit, { client: c, onclose: () => {}, onsaved: () => {} }, api);
    const save = () => $<HTMLButtonElement>('[data-testid=edit-save-client]')!;
    type('[data-testid=edit-redirects]', 'https://a.example/cb,https://b.example/cb');
    expect($('[data-testid=edit-redirect-problems]')!.textContent).toContain('has a comma');
    expect($('[data-testid=edit-redirects]')!.getAttribute('aria-invalid')).toBe('true');
    expect(save().disabled).toBe(true);
    type('[data-testid=edit-redirects]', 'https://a.example/cb');
    type('[data-testid=edit-logout-uris]', 'https://a.example/byehttps://b.example/bye');
    expect($('[data-testid=edit-logout-problems]')!.textContent).toContain(':// inside its path');
    expect(save().disabled).toBe(true);
    type('[data-testid=edit-logout-uris]', '');
    expect(save().disabled).toBe(false);
    type('[data-testid=edit-grace]', '45');
    expect(save().disabled).toBe(true);
  });

  it('offers a public client only the method none and no client credentials', async () => {
    const c = client({ client_type: 'public', auth_method: 'none', redirect_uris: ['http://127.0.0.1/cb'] });
    const { api } = fakeApi({ clients: [c] });
    await show(ClientEdit, { client: c, onclose: () => {}, onsaved: () => {} }, api);
    expect($$('[data-testid=edit-auth-method] option').map((o) => o.textContent)).toEqual(['none']);
    expect($('[data-grant=client_credentials]')).toBeNull();
  });
});

describe('a created client is visible', () => {
  it('shows its id, the issuer, the discovery URL and a snippet without the secret, and highlights its row', async () => {
    const { api } = fakeApi({ clients: [client({ client_id: 'c-old', name: 'Old' })] });
    const secrets = secretsStore();
    await show(Clients, {}, api, shellWithIssuer().shell, secrets);
    click($('[data-testid=new-client]'));
    click($('[data-testid=wizard-next]'));
    type('[data-testid=client-name]', 'Shop');
    type('[data-testid=client-redirects]', 'https://shop.example/cb');
    click($('[data-testid=wizard-create]'));
    await settle(); flushSync();
    await settle(); flushSync();
    const card = $('[data-testid=created-client]')!;
    const id = $('[data-testid=setup-client-id]')!.textContent!;
    expect(card.textContent).toContain('Shop is registered');
    expect($('[data-testid=setup-issuer]')!.textContent).toBe(ISSUER);
    expect($('[data-testid=setup-discovery]')!.textContent).toBe(discoveryUrl(ISSUER));
    const snippet = $('[data-testid=setup-snippet]')!.textContent!;
    expect(snippet).toContain(`OIDC_CLIENT_ID=${id}`);
    expect(snippet).toContain('OIDC_REDIRECT_URI=https://shop.example/cb');
    expect(snippet).not.toContain('the-one-time-secret');
    // The secret is in the shown-once dialog, with the client id.
    expect(secrets.current?.fields.map((f) => f.value)).toEqual(expect.arrayContaining([id, 'the-one-time-secret']));
    const row = $(`[data-testid=client-row][data-client-id="${id}"]`)!;
    expect(row.classList.contains('fresh')).toBe(true);
    expect(row.querySelector('[data-testid=new-badge]')).not.toBeNull();
    expect($('[data-testid=client-row][data-client-id="c-old"]')!.classList.contains('fresh')).toBe(false);
    click($('[data-testid=setup-js-tab]'));
    expect($('[data-testid=setup-snippet]')!.textContent).toContain('client.discovery(new URL(process.env.OIDC_ISSUER)');
  });

  it('writes snippets that fit the kind of client', () => {
    const machine = { client_id: 'm', client_type: 'confidential', auth_method: 'client_secret_basic', grant_types: ['client_credentials'], redirect_uris: [], allowed_scopes: ['orders'] };
    expect(envSnippet(machine, 'https://id.example')).toBe('OIDC_ISSUER=https://id.example\nOIDC_CLIENT_ID=m\nOIDC_SCOPE="orders"\n# OIDC_CLIENT_SECRET: the secret shown once when it was created or rotated\n');
    expect(openidClientSnippet(machine)).toContain('clientCredentialsGrant');
    const spa = { client_id: 's', client_type: 'public', auth_method: 'none', grant_types: ['authorization_code'], redirect_uris: ['https://s.example/cb'], allowed_scopes: [] };
    expect(openidClientSnippet(spa)).toContain('client.None()');
    expect(openidClientSnippet(spa)).toContain("code_challenge_method: 'S256'");
    expect(envSnippet(spa, 'https://id.example/')).not.toContain('SECRET');
    expect(discoveryUrl('https://id.example/')).toBe('https://id.example/.well-known/openid-configuration');
  });
});

describe('names, not ids', () => {
  const users: T.UserDto[] = [{ id: 'u-1', username: 'alice', email: null, email_verified: false, name: 'Alice Long-Name', disabled: false, is_admin: false, password_changed_at: NOW, created_at: NOW }];

  it('links every audit target to its object', async () => {
    const ev = (id: number, action: string, target: string): T.AuditEventDto => ({ id, at: NOW - id, actor: 'local-admin', action, target, before: null, after: null, ip: null, security: false });
    const { api } = fakeApi({
      clients: [billing()], users,
      audit: [ev(1, 'client.update', 'c-billing'), ev(2, 'user.update', 'u-1'), ev(3, 'session.revoke', 's-9'), ev(4, 'key.rotate', 'kid-1'), ev(5, 'session.revoke_client', 'c-billing')],
    });
    const { shell, went } = shellWithIssuer();
    await show(Audit, {}, api, shell);
    const targets = $$('[data-testid=audit-target]');
    expect(targets.map((t) => [t.dataset.kind, t.textContent, t.getAttribute('title')])).toEqual([
      ['client', 'Billing', 'c-billing'], ['user', 'alice', 'u-1'], ['session', 's-9', 's-9'], ['key', 'kid-1', 'kid-1'], ['client', 'Billing', 'c-billing'],
    ]);
    for (const t of targets) click(t);
    expect(went).toEqual([['clients', 'c-billing'], ['users', 'alice'], ['sessions', 'session:s-9'], ['keys', undefined], ['clients', 'c-billing']]);
  });

  it('opens the audit log filtered to a target when asked from a client page', async () => {
    const { api, calls } = fakeApi({});
    await show(Audit, { initial: 'target:c-billing' }, api);
    expect(calls.find((c) => c.name === 'auditList')!.args[0]).toMatchObject({ target: 'c-billing' });
  });

  it('reads a revoke of everything of a user as that user, and leaves unknown targets of other nouns as text', () => {
    const names = namesFrom(users, [billing()]);
    expect(targetOf('session.revoke_user', 'u-1', names)).toMatchObject({ kind: 'user', name: 'alice' });
    expect(targetOf('scope.create', 'orders', names)).toBeNull();
    expect(placeOf({ kind: 'user', id: 'u-1', name: 'alice' })).toEqual({ page: 'users', arg: 'alice' });
  });

  it("shows the inspector's sub, client_id and sid as the user, the client and the session, the id on hover", async () => {
    const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';
    const inspection: T.Inspection = {
      kind: 'jwt', valid: true, outcome: 'active', verdict: 'Valid.', removed: [], server: { active: true, token_type: 'Bearer' },
      header: { alg: 'ES256', kid: 'k1' }, claims: { iat: NOW - 60, exp: NOW + 240, sub: 'u-1', client_id: 'c-billing', sid: 's1' },
      claim_lines: [
        { claim: 'sub', value: 'u-1', meaning: 'Subject' }, { claim: 'client_id', value: 'c-billing', meaning: 'Client' },
        { claim: 'sid', value: 's1', meaning: 'Session' }, { claim: 'jti', value: 'j-1', meaning: 'Token id' },
      ],
      checks: [],
    } as T.Inspection;
    const { api } = fakeApi({ clients: [billing()], users, inspection, sessions: [session(1, { id: 's1', username: 'alice', client_name: 'Billing' })] });
    const { shell, went } = shellWithIssuer();
    await show(Tokens, { initial: JWT }, api, shell);
    await settle(); flushSync();
    const named = $$('[data-testid=claim-name]');
    expect(named.map((n) => [n.textContent, n.getAttribute('title')])).toEqual([
      ['alice', 'u-1'], ['Billing', 'c-billing'], ['alice’s session in Billing', 's1'],
    ]);
    expect(button('Copy id')).toBeTruthy();
    expect($('[data-claim=jti]')!.textContent).toContain('j-1');
    for (const n of named) click(n);
    expect(went).toEqual([['users', 'alice'], ['clients', 'c-billing'], ['sessions', 'session:s1']]);
  });

  it('opens Sessions filtered to a client, and to the session an audit link names', async () => {
    const { api, calls } = fakeApi({ clients: [billing()], users, sessions: [session(1, { id: 's1', user_id: 'u-1', username: 'alice', client_id: 'c-billing' })] });
    await show(Sessions, { user: 'client:c-billing' }, api);
    await settle(300); flushSync();
    expect(calls.filter((c) => c.name === 'sessionsList').at(-1)!.args[0]).toMatchObject({ client_id: 'c-billing', user: null, state: 'active' });
    unmount(mounted!); mounted = null; document.body.innerHTML = '';
    calls.length = 0;
    await show(Sessions, { user: 'session:s1' }, api);
    await settle(300); flushSync();
    expect(calls.filter((c) => c.name === 'sessionsList').at(-1)!.args[0]).toMatchObject({ client_id: 'c-billing', user: 'u-1', state: 'any' });
  });
});
