import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushSync, mount, unmount, type Component } from 'svelte';
import { contextFor } from '../src/lib/context';
import { fakeApi, fakeShell, client, session, settle, NOW } from './fake-api';
import Clients from '../src/pages/Clients.svelte';
import Sessions from '../src/pages/Sessions.svelte';
import Tokens from '../src/pages/Tokens.svelte';
import Audit from '../src/pages/Audit.svelte';
import Keys from '../src/pages/Keys.svelte';
import Users from '../src/pages/Users.svelte';
import App from '../src/App.svelte';

let mounted: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
});

function render<P extends Record<string, unknown>>(C: Component<P>, api: ReturnType<typeof fakeApi>['api'], props?: P) {
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted = mount(C as Component<Record<string, unknown>>, { target, props: props ?? {}, context: contextFor(api, fakeShell()) });
  return target;
}

const byText = (root: ParentNode, sel: string, text: string) =>
  [...root.querySelectorAll<HTMLElement>(sel)].find((e) => e.textContent?.trim() === text);

function click(el: Element | undefined | null) {
  if (!el) throw new Error('nothing to click');
  (el as HTMLElement).click();
  flushSync();
}

describe('Clients', () => {
  it('says what to do when there are no clients yet', async () => {
    const { api } = fakeApi({ clients: [] });
    const t = render(Clients, api);
    await settle();
    flushSync();
    expect(t.textContent).toContain('No clients yet');
    expect(byText(t, 'button', 'Register a client')).toBeTruthy();
  });

  it('registers a single-page app as a public PKCE client and explains why', async () => {
    const { api, calls } = fakeApi({ clients: [] });
    const t = render(Clients, api);
    await settle();
    click(t.querySelector('[data-testid=new-client]'));
    const spa = t.querySelector<HTMLInputElement>('input[type=radio][value=spa]')!;
    spa.click();
    flushSync();
    click(t.querySelector('[data-testid=wizard-next]'));
    expect(t.textContent).toContain('cannot keep a secret');
    const name = t.querySelector<HTMLInputElement>('[data-testid=client-name]')!;
    name.value = 'Dashboard SPA';
    name.dispatchEvent(new Event('input'));
    flushSync();
    // The example redirect is a placeholder: nothing is registered until one is typed.
    const redirects = t.querySelector<HTMLTextAreaElement>('[data-testid=client-redirects]')!;
    expect(redirects.value).toBe('');
    expect(redirects.placeholder).toBe('https://app.example.com/callback');
    expect(t.querySelector<HTMLButtonElement>('[data-testid=wizard-create]')!.disabled).toBe(true);
    redirects.value = 'https://dash.example.org/cb';
    redirects.dispatchEvent(new Event('input'));
    flushSync();
    click(t.querySelector('[data-testid=wizard-create]'));
    await settle();
    flushSync();
    const req = calls.find((c) => c.name === 'clientCreate')!.args[0] as Record<string, unknown>;
    expect(req).toMatchObject({ name: 'Dashboard SPA', client_type: 'public', auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] });
    // A public client has no secret to show.
    expect(t.querySelector('[data-testid=secret-value]')).toBeNull();
  });

  // AD (issue 10 §3): the admin scopes are reserved; the wizard never offers them.
  it('never offers the admin scopes in the wizard, whatever kind of application', async () => {
    const scopes = [
      { name: 'openid', description: 'Sign you in', claims: ['sub'], builtin: true, created_at: NOW },
      { name: 'latchkey:admin', description: 'Administer this Latchkey server', claims: [], builtin: true, created_at: NOW },
      { name: 'latchkey:admin:read', description: 'Read this server', claims: [], builtin: true, created_at: NOW },
    ];
    for (const kind of ['web', 'spa', 'native', 'device', 'machine']) {
      const { api, calls } = fakeApi({ clients: [], scopes });
      const t = render(Clients, api);
      await settle();
      click(t.querySelector('[data-testid=new-client]'));
      t.querySelector<HTMLInputElement>(`input[type=radio][value=${kind}]`)!.click();
      flushSync();
      click(t.querySelector('[data-testid=wizard-next]'));
      await settle();
      flushSync();
      const offered = [...t.querySelectorAll('.scopes code')].map((c) => c.textContent);
      // openid stands for a user: a machine client is not offered it (issue 12).
      if (kind === 'machine') expect(offered, kind).not.toContain('openid');
      else expect(offered, kind).toContain('openid');
      expect(offered.some((s) => s?.startsWith('latchkey:admin')), kind).toBe(false);
      const name = t.querySelector<HTMLInputElement>('[data-testid=client-name]')!;
      name.value = 'App ' + kind;
      name.dispatchEvent(new Event('input'));
      const redirects = t.querySelector<HTMLTextAreaElement>('[data-testid=client-redirects]');
      if (redirects) {
        redirects.value = 'http://127.0.0.1:9/cb';
        redirects.dispatchEvent(new Event('input'));
      }
      flushSync();
      click(t.querySelector('[data-testid=wizard-create]'));
      await settle();
      const req = calls.find((c) => c.name === 'clientCreate')!.args[0] as { allowed_scopes: string[]; admin_tool?: boolean };
      expect(req.allowed_scopes.some((s) => s.startsWith('latchkey:admin')), kind).toBe(false);
      expect(req.admin_tool ?? false, kind).toBe(false);
      unmount(mounted!);
      mounted = null;
      document.body.innerHTML = '';
    }
  });

  it('shows a new confidential client secret once, with a copy button, and forgets it on close', async () => {
    const { api } = fakeApi({ clients: [] });
    // The secret is shown by the App's one-time dialog, above the page.
    const t = document.createElement('div');
    document.body.appendChild(t);
    mounted = mount(App, { target: t, props: { api } });
    await settle(10);
    flushSync();
    click(t.querySelector('#nav-clients'));
    await settle();
    flushSync();
    click(t.querySelector('[data-testid=new-client]'));
    t.querySelector<HTMLInputElement>('input[type=radio][value=machine]')!.click();
    flushSync();
    click(t.querySelector('[data-testid=wizard-next]'));
    const name = t.querySelector<HTMLInputElement>('[data-testid=client-name]')!;
    name.value = 'Nightly job';
    name.dispatchEvent(new Event('input'));
    flushSync();
    click(t.querySelector('[data-testid=wizard-create]'));
    await settle();
    flushSync();
    expect(t.querySelector('[data-testid=secret-value]')?.textContent).toBe('the-one-time-secret');
    click(t.querySelector('button[aria-label^="Copy the client secret"]'));
    await settle();
    click(byText(t, 'button', 'I have copied it'));
    expect(t.textContent).not.toContain('the-one-time-secret');
  });

  it('filters the table as you type', async () => {
    const { api } = fakeApi({ clients: [client({ name: 'Billing' }), client({ name: 'Shop' })] });
    const t = render(Clients, api);
    await settle();
    flushSync();
    expect(t.querySelectorAll('[data-testid=client-row]').length).toBe(2);
    const q = t.querySelector<HTMLInputElement>('#client-search')!;
    q.value = 'bill';
    q.dispatchEvent(new Event('input'));
    flushSync();
    expect(t.querySelectorAll('[data-testid=client-row]').length).toBe(1);
  });

  it('shows a failure as a human message with its code', async () => {
    const { api } = fakeApi();
    api.clientsList = () => Promise.reject({ code: 'unavailable', message: 'the database is locked' });
    const t = render(Clients, api);
    await settle();
    flushSync();
    const alert = t.querySelector('[role=alert]')!;
    expect(alert.textContent).toContain('the database is locked');
    expect(alert.textContent).toContain('unavailable');
  });
});

describe('Sessions', () => {
  it('keeps only a window of the 100 000 rows in the DOM', async () => {
    const sessions = Array.from({ length: 100_000 }, (_, i) => session(i));
    const { api } = fakeApi({ sessions });
    const t = render(Sessions, api, { pollMs: 600_000 });
    await settle(400);
    for (let i = 0; i < 200 && t.querySelector('[data-testid=session-count]')?.textContent?.includes('…'); i++) await settle(20);
    flushSync();
    expect(t.querySelector('[data-testid=session-count]')?.textContent).toContain('100000 sessions');
    const rows = t.querySelectorAll('[data-testid=session-row]').length;
    expect(rows).toBeGreaterThan(0);
    expect(rows).toBeLessThan(100);
  }, 60_000);

  it('shows what a revoke cuts off (a dry run) before revoking, then revokes', async () => {
    const { api, calls } = fakeApi({ sessions: [session(1, { live_access_tokens: 3, live_refresh_tokens: 1 })] });
    const t = render(Sessions, api, { pollMs: 600_000 });
    await settle(400);
    flushSync();
    click(t.querySelector('[data-testid=revoke-session]'));
    await settle();
    flushSync();
    const impact = t.querySelector('[data-testid=revoke-impact]')!.textContent!;
    expect(impact).toMatch(/1\s+live session/);
    expect(impact).toMatch(/1\s+refresh token family/);
    expect(impact).toMatch(/3\s+live access tokens/);
    const revokes = () => calls.filter((c) => c.name === 'sessionsRevoke').map((c) => c.args[0] as { dry_run: boolean; session_ids: string[] });
    expect(revokes().map((r) => r.dry_run)).toEqual([true]);
    click(t.querySelector('[data-testid=confirm-revoke]'));
    await settle();
    expect(revokes()[1]).toEqual({ session_ids: ['s1'], dry_run: false });
  });

  it('revokes a selection of sessions together', async () => {
    const { api, calls } = fakeApi({ sessions: [session(1), session(2), session(3)] });
    const t = render(Sessions, api, { pollMs: 600_000 });
    await settle(400);
    flushSync();
    const boxes = t.querySelectorAll<HTMLInputElement>('[data-testid=session-row] input[type=checkbox]');
    boxes[0].click();
    boxes[2].click();
    flushSync();
    click(t.querySelector('[data-testid=revoke-selected]'));
    await settle();
    flushSync();
    expect(t.querySelector('[data-testid=revoke-impact]')!.textContent).toMatch(/2\s+live sessions/);
    click(t.querySelector('[data-testid=confirm-revoke]'));
    await settle();
    const last = calls.filter((c) => c.name === 'sessionsRevoke').at(-1)!.args[0];
    expect(last).toEqual({ session_ids: ['s1', 's3'], dry_run: false });
  });
});

describe('Tokens', () => {
  it('shows the verdict, each check and every claim in words', async () => {
    const soon = Math.floor(Date.now() / 1000) + 310;
    const { api } = fakeApi({
      inspection: {
        kind: 'jwt', valid: true, outcome: 'active', verdict: 'valid: signed by an active key', removed: [], server: { active: true },
        header: { alg: 'ES256', kid: 'k1' }, claims: { iat: soon - 310, exp: soon, sub: 'alice' },
        claim_lines: [{ claim: 'sub', value: 'alice', meaning: 'the subject' }, { claim: 'exp', value: soon, meaning: 'expires' }],
        checks: [{ name: 'signature', ok: true, detail: 'verified with k1' }, { name: 'expiry', ok: true, detail: 'not expired' }],
      },
    });
    const t = render(Tokens, api, { initial: 'aaa.bbb.ccc' });
    await settle();
    flushSync();
    expect(t.querySelector('[data-testid=verdict]')?.getAttribute('data-valid')).toBe('true');
    expect(t.querySelector('[data-check=signature]')?.getAttribute('data-ok')).toBe('true');
    expect(t.querySelector('[data-claim=sub]')?.textContent).toContain('the subject');
    expect(t.textContent).toContain('Expires in 5 min');
  });
});

describe('Audit', () => {
  it('shows each change as before → after', async () => {
    const { api } = fakeApi({
      audit: [{ id: 1, at: NOW, actor: 'local-admin', action: 'client.update', target: 'c1', before: { name: 'Old', disabled: false }, after: { name: 'New', disabled: false }, ip: null, security: false }],
    });
    const t = render(Audit, api);
    await settle();
    flushSync();
    click(byText(t, 'button', '1 change'));
    const line = t.querySelector('[data-testid=diff-line]')!;
    expect(line.textContent).toContain('name');
    expect(line.querySelector('.before')?.textContent).toBe('Old');
    expect(line.querySelector('.after')?.textContent).toBe('New');
  });
});

describe('Keys', () => {
  it('explains what an emergency revoke breaks before doing it', async () => {
    const { api, calls } = fakeApi({
      keys: [{ kid: 'k-active', alg: 'ES256', state: 'active', public_jwk: {}, created_at: NOW - 7200, activated_at: NOW - 3600, retiring_at: null, retired_at: null, revoked_at: null }],
    });
    const t = render(Keys, api);
    await settle();
    flushSync();
    click(t.querySelector('button[aria-label="Emergency revoke of key k-active"]'));
    expect(t.textContent).toContain('stops verifying');
    expect(calls.some((c) => c.name === 'keyRevoke')).toBe(false);
    click(byText(t, 'button', 'Revoke the key'));
    await settle();
    expect(calls.find((c) => c.name === 'keyRevoke')?.args).toEqual(['k-active']);
  });
});

describe('App', () => {
  it('shows the first admin password once and every page has a named nav button', async () => {
    const { api, calls } = fakeApi({ password: 'generated-pw', clients: [] });
    const target = document.createElement('div');
    document.body.appendChild(target);
    mounted = mount(App, { target, props: { api } });
    await settle(10);
    flushSync();
    expect(target.querySelector('[data-testid=secret-value]')?.textContent).toBe('generated-pw');
    expect(calls.filter((c) => c.name === 'firstAdminPasswordTake').length).toBe(1);
    for (const p of ['Dashboard', 'Clients', 'Scopes', 'Users', 'Keys', 'Sessions', 'Tokens', 'Exchange', 'Audit', 'Settings']) {
      expect(byText(target, 'nav button', p)).toBeTruthy();
    }
    expect(target.querySelector('[data-testid=port]')?.textContent).toBe('9280');
  });
});

/** The App on `api`, settled, with the connection switcher open. */
async function appWithSwitcher(api: ReturnType<typeof fakeApi>['api']): Promise<HTMLElement> {
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted = mount(App, { target, props: { api } });
  await settle(10);
  flushSync();
  click(target.querySelector('[data-testid=connection-badge]'));
  await settle();
  flushSync();
  return target;
}

describe('Connections', () => {
  it('a list that cannot be read says why and offers to try again, which then shows it', async () => {
    const { api } = fakeApi();
    const real = api.connectionsList;
    let reads = 0;
    api.connectionsList = () => {
      reads += 1;
      return reads === 1 ? Promise.reject({ code: 'internal', message: 'connections.json is unreadable' }) : real();
    };
    await appWithSwitcher(api);
    expect(document.querySelector('[role=alert]')?.textContent).toContain('connections.json is unreadable');
    expect(document.querySelectorAll('[data-testid=connection]').length).toBe(0);
    click(document.querySelector('[data-testid=retry]'));
    await settle();
    flushSync();
    expect(document.querySelector('[role=alert]')).toBeNull();
    expect(document.querySelectorAll('[data-testid=connection]').length).toBe(1);
  });

  function input(root: ParentNode, sel: string, value: string) {
    const el = root.querySelector<HTMLInputElement>(sel)!;
    el.value = value;
    el.dispatchEvent(new Event('input'));
    flushSync();
  }

  it('switches to a remote server with an API key; the badge takes its name and colour and pages reload', async () => {
    const { api, calls } = fakeApi({ clients: [client({ name: 'Local app' })] });
    const target = document.createElement('div');
    document.body.appendChild(target);
    mounted = mount(App, { target, props: { api } });
    await settle(10);
    flushSync();
    const badge = () => target.querySelector<HTMLElement>('[data-testid=connection-badge]')!;
    expect(badge().dataset.colour).toBe('green');
    expect(badge().getAttribute('aria-label')).toContain('Switch connection');
    click(badge());
    await settle();
    flushSync();
    expect(document.querySelectorAll('[data-testid=connection]').length).toBe(1);
    click(document.querySelector('[data-testid=add-connection]'));
    input(document, '[data-testid=conn-name]', 'Production');
    click(document.querySelector('[data-testid=colour-red]'));
    input(document, '[data-testid=conn-server]', 'https://id.example.com:8443');
    input(document, '[data-testid=conn-key]', 'lk_bad');
    click(document.querySelector('[data-testid=conn-connect]'));
    await settle();
    flushSync();
    // A refused key: the error with its code, and still on the local file.
    expect(document.querySelector('[role=alert]')?.textContent).toContain('unauthorized');
    expect(badge().dataset.kind).toBe('embedded');

    input(document, '[data-testid=conn-key]', 'lk_good');
    const before = calls.filter((c) => c.name === 'statsGet').length;
    click(document.querySelector('[data-testid=conn-connect]'));
    await settle(10);
    flushSync();
    expect(badge().dataset.kind).toBe('remote');
    expect(badge().dataset.colour).toBe('red');
    expect(target.querySelector('[data-testid=connection-name]')?.textContent).toBe('Production');
    expect(target.querySelector('[data-testid=server]')?.textContent).toBe('https://id.example.com:8443');
    expect(target.textContent).toContain('not remembered');
    expect(document.querySelector('[data-testid=connection]')).toBeNull();
    // The dashboard loaded again, from the new connection.
    expect(calls.filter((c) => c.name === 'statsGet').length).toBeGreaterThan(before);
    const add = calls.find((c) => c.name === 'connectionAdd' && (c.args[0] as { api_key: string }).api_key === 'lk_good');
    expect(add).toBeTruthy();
    // The key is nowhere in the page afterwards.
    expect(document.body.innerHTML).not.toContain('lk_good');
  });

  it('asks for the API key again when reopening a remote connection that has none stored', async () => {
    const { api, calls } = fakeApi({
      connections: [
        { id: 'local', name: 'latchkey.db', colour: 'green', kind: 'embedded', location: '/tmp/latchkey.db', issuer: null, auth: null, active: true, signed_in: false },
        { id: 'prod', name: 'Prod', colour: 'red', kind: 'remote', location: 'https://id.example.com', issuer: null, auth: 'api_key', active: false, signed_in: false },
      ],
    });
    const target = await appWithSwitcher(api);
    click(document.querySelector('[aria-label="Switch to Prod"]'));
    expect(calls.some((c) => c.name === 'connectionOpen')).toBe(false);
    input(document, '[data-testid=reopen-key]', 'lk_typed');
    click(document.querySelector('[aria-label="Switch to Prod"]'));
    await settle(10);
    flushSync();
    expect(calls.find((c) => c.name === 'connectionOpen')?.args).toEqual(['prod', 'lk_typed']);
    expect(target.querySelector<HTMLElement>('[data-testid=connection-badge]')!.dataset.kind).toBe('remote');
  });

  it('says what forgetting a connection does before doing it', async () => {
    const { api, calls } = fakeApi({
      connections: [
        { id: 'local', name: 'latchkey.db', colour: 'green', kind: 'embedded', location: '/tmp/latchkey.db', issuer: null, auth: null, active: true, signed_in: false },
        { id: 'stg', name: 'Staging', colour: 'amber', kind: 'remote', location: 'https://stg.example.com', issuer: null, auth: 'browser', active: false, signed_in: true },
      ],
    });
    const target = await appWithSwitcher(api);
    expect(document.querySelector('[aria-label="Forget latchkey.db"]')).toBeNull();
    click(document.querySelector('[aria-label="Forget Staging"]'));
    expect(document.querySelector('[role=alertdialog]')?.textContent).toContain('revoked at the server');
    click(document.querySelector('[data-testid=confirm-forget]'));
    await settle();
    flushSync();
    expect(calls.find((c) => c.name === 'connectionRemove')?.args).toEqual(['stg']);
    expect(document.querySelector('[data-testid=connections-notice]')?.textContent).toContain('revoked at the server');
    expect(document.querySelectorAll('[data-testid=connection]').length).toBe(1);
  });
});

describe('Try it', () => {
  it('runs client credentials with the typed secret and opens the token in the inspector', async () => {
    const m2m = client({ name: 'Batch', grant_types: ['client_credentials'], redirect_uris: [] });
    const { api, calls } = fakeApi({
      clients: [m2m],
      tryResult: { grant: 'client_credentials', access_token: 'eyJ.at.sig', id_token: null, expires_in: 600, scope: 'api', refresh_token_issued: false, redirect_uri: null },
    });
    const shell = fakeShell();
    const target = document.createElement('div');
    document.body.appendChild(target);
    mounted = mount(Clients, { target, props: {}, context: contextFor(api, shell) });
    await settle();
    flushSync();
    click(target.querySelector('[data-testid=try-client]'));
    const secret = document.querySelector<HTMLInputElement>('[data-testid=try-secret]')!;
    secret.value = 'the-secret';
    secret.dispatchEvent(new Event('input'));
    flushSync();
    click(document.querySelector('[data-testid=try-run]'));
    await settle();
    flushSync();
    expect(calls.find((c) => c.name === 'clientTry')?.args[0]).toMatchObject({ id: m2m.client_id, grant: 'client_credentials', client_secret: 'the-secret' });
    expect(document.querySelector('[data-testid=try-ok]')?.textContent).toContain('valid 10 min');
    click(document.querySelector('[data-testid=try-inspect]'));
    expect(shell.went).toContain('tokens:eyJ.at.sig');
  });

  it('explains why the code flow needs a loopback redirect URI', async () => {
    const web = client({ name: 'Web', redirect_uris: ['https://app.example/cb'] });
    const { api } = fakeApi({ clients: [web] });
    const t = render(Clients, api);
    await settle();
    flushSync();
    click(t.querySelector('[data-testid=try-client]'));
    expect(document.body.textContent).toContain('loopback redirect URI');
    expect(document.querySelector<HTMLButtonElement>('[data-testid=try-run]')!.disabled).toBe(true);
  });
});

describe('Users', () => {
  it('creates a user with the password the administrator sets, and refuses a short one plainly', async () => {
    const { api, calls } = fakeApi({ users: [] });
    const t = render(Users, api);
    await settle();
    flushSync();
    expect(t.textContent).toContain('No users yet');
    click(t.querySelector('[data-testid=new-user]'));
    const set = (sel: string, v: string) => {
      const el = document.querySelector<HTMLInputElement>(sel)!;
      el.value = v;
      el.dispatchEvent(new Event('input'));
      flushSync();
    };
    set('[data-testid=user-username]', 'alice');
    set('[data-testid=user-password]', 'short');
    document.querySelector<HTMLFormElement>('form[aria-label="New user"]')!.requestSubmit();
    await settle();
    flushSync();
    expect(t.querySelector('[role=alert]')?.textContent).toContain('invalid_input');
    set('[data-testid=user-password]', 'a long enough passphrase');
    document.querySelector<HTMLFormElement>('form[aria-label="New user"]')!.requestSubmit();
    await settle();
    flushSync();
    expect(calls.filter((c) => c.name === 'userCreate').length).toBe(2);
    expect(t.querySelectorAll('[data-testid=user-row]').length).toBe(1);
    expect(document.body.innerHTML).not.toContain('a long enough passphrase');
  });

  it('says what disabling a user cuts off before doing it', async () => {
    const alice = { id: 'u1', username: 'alice', email: null, email_verified: false, name: null, disabled: false, is_admin: false, password_changed_at: NOW, created_at: NOW };
    const { api, calls } = fakeApi({ users: [alice], sessions: [session(1, { user_id: 'u1' }), session(2, { user_id: 'u1' })] });
    const t = render(Users, api);
    await settle();
    flushSync();
    click(t.querySelector('[data-testid=disable-user]'));
    await settle();
    flushSync();
    expect(document.querySelector('[data-testid=disable-impact]')?.textContent).toMatch(/live session/);
    expect(calls.find((c) => c.name === 'sessionsRevoke')?.args[0]).toMatchObject({ user: 'u1', dry_run: true });
    expect(calls.some((c) => c.name === 'userDisable')).toBe(false);
    click(document.querySelector('[data-testid=confirm-disable]'));
    await settle();
    flushSync();
    expect(calls.find((c) => c.name === 'userDisable')?.args).toEqual(['u1']);
    expect(t.textContent).toContain('disabled');
  });
});

describe('Audit periods and values', () => {
  it('asks for yesterday as the local day before today, in one click, and marks where each day starts', async () => {
    const { dayStart } = await import('../src/lib/format');
    const y = dayStart(1);
    const { api, calls } = fakeApi({
      audit: [
        { id: 3, at: y + 7200, actor: 'local-admin', action: 'client.update', target: 'c1', before: null, after: null, ip: null, security: false },
        { id: 2, at: y + 3600, actor: 'local-admin', action: 'client.create', target: 'c1', before: null, after: null, ip: null, security: false },
        { id: 1, at: y - 3600, actor: 'local-admin', action: 'scope.create', target: 's1', before: null, after: null, ip: null, security: false },
      ],
    });
    const t = render(Audit, api);
    await settle();
    flushSync();
    click(t.querySelector('[data-testid=period-yesterday]'));
    await settle();
    flushSync();
    expect(calls.filter((c) => c.name === 'auditList').at(-1)!.args[0]).toMatchObject({ since: dayStart(1), until: dayStart(0) });
    expect([...t.querySelectorAll('[data-testid=audit-day]')].length).toBe(2);
    expect(t.querySelector('[data-testid=audit-row]')!.textContent).toMatch(/UTC[+-]\d\d:\d\d/);
  });

  it('filters as the admin types, without a Filter button', async () => {
    vi.useFakeTimers();
    try {
      const { api, calls } = fakeApi({ audit: [] });
      const t = render(Audit, api);
      await vi.advanceTimersByTimeAsync(0);
      flushSync();
      const before = calls.filter((c) => c.name === 'auditList').length;
      const input = t.querySelector<HTMLInputElement>('#a-target')!;
      input.value = 'billing';
      input.dispatchEvent(new Event('input', { bubbles: true }));
      flushSync();
      await vi.advanceTimersByTimeAsync(299);
      expect(calls.filter((c) => c.name === 'auditList').length).toBe(before);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls.filter((c) => c.name === 'auditList').at(-1)!.args[0]).toMatchObject({ target: 'billing' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('shows instants as dates and durations in words in a change', async () => {
    const { diff } = await import('../src/lib/diff');
    const [ttl, at, off] = diff({ access_token_ttl: 600, disabled_at: null, enabled: true }, { access_token_ttl: 3600, disabled_at: 1_800_000_000, enabled: false });
    expect(ttl).toMatchObject({ field: 'access_token_ttl', before: '10 min (600 s)', after: '1 h (3600 s)' });
    expect(at.after).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:00 UTC[+-]\d\d:\d\d \(1800000000\)$/);
    expect(at.before).toBe('none');
    expect(off).toMatchObject({ before: 'yes', after: 'no' });
  });
});

describe('Audit names', () => {
  it('names the user, client and API key an event is about, the id on hover', async () => {
    const { api } = fakeApi({
      clients: [client({ client_id: 'c-billing', name: 'Billing' })],
      users: [{ id: 'u-1', username: 'alice', email: null, email_verified: false, name: null, disabled: false, is_admin: true, password_changed_at: NOW, created_at: NOW }],
      audit: [{ id: 1, at: NOW, actor: 'user:u-1', action: 'client.update', target: 'c-billing', before: null, after: null, ip: null, security: false }],
    });
    const t = render(Audit, api);
    await settle();
    flushSync();
    const row = t.querySelector('[data-testid=audit-row]')!;
    const actor = row.querySelector('[data-testid=audit-actor-name]')!;
    expect(actor.textContent).toBe('alice');
    expect(actor.getAttribute('title')).toBe('user:u-1');
    expect(row.textContent).toContain('Billing');
    expect(row.querySelector('[title=c-billing]')).not.toBeNull();
  });
});

import { redirectProblems } from '../src/lib/kinds';
describe('redirect URIs typed in the wizard', () => {
  it('flags commas, a second :// inside a path, fragments and http off loopback, and passes good ones', () => {
    expect(redirectProblems('https://a.example/cb\nhttp://127.0.0.1:9/cb', 'web')).toEqual([]);
    expect(redirectProblems('https://a.example/cb,https://b.example/cb', 'web')[0]).toContain('has a comma');
    expect(redirectProblems('https://a.example/cbhttps://b.example/cb', 'web')[0]).toContain(':// inside its path');
    expect(redirectProblems('https://a.example/cb#x', 'web')[0]).toContain('fragment');
    expect(redirectProblems('http://a.example/cb', 'web')[0]).toContain('must use https');
    expect(redirectProblems('/callback', 'web')[0]).toContain('not an absolute URI');
    expect(redirectProblems('com.example.app:/cb', 'loopback')).toEqual([]);
  });

  it('keep Create disabled and say why while a line is wrong', async () => {
    const { api } = fakeApi({ clients: [] });
    const t = render(Clients, api);
    await settle();
    click(t.querySelector('[data-testid=new-client]'));
    click(t.querySelector('[data-testid=wizard-next]'));
    const name = t.querySelector<HTMLInputElement>('[data-testid=client-name]')!;
    name.value = 'Shop';
    name.dispatchEvent(new Event('input'));
    const redirects = t.querySelector<HTMLTextAreaElement>('[data-testid=client-redirects]')!;
    redirects.value = 'https://shop.example/cb, https://shop.example/cb2';
    redirects.dispatchEvent(new Event('input'));
    flushSync();
    expect(t.querySelector('[data-testid=redirect-problems]')!.textContent).toContain('has a comma');
    expect(redirects.getAttribute('aria-invalid')).toBe('true');
    expect(t.querySelector<HTMLButtonElement>('[data-testid=wizard-create]')!.disabled).toBe(true);
  });
});
