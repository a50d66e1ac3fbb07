// Issue 15 in the console: the wizard's browser-app kind sets and explains its web
// origins; the client editor shows and edits DPoP binding and origins; Try it runs a
// client with DPoP and PAR and says which key the tokens are bound to.
import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount, type Component } from 'svelte';
import { contextFor } from '../src/lib/context';
import { secretsStore } from '../src/lib/secrets.svelte';
import { client, fakeApi, fakeShell, settle } from './fake-api';
import { originProblems, originsOf } from '../src/lib/kinds';
import ClientEdit from '../src/pages/ClientEdit.svelte';
import ClientWizard from '../src/pages/ClientWizard.svelte';
import ClientTry from '../src/pages/ClientTry.svelte';
import type * as T from '../src/lib/types';

let mounted: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
});

const $ = <E extends HTMLElement = HTMLElement>(sel: string) => document.querySelector<E>(sel);
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
const button = (text: string) => [...document.querySelectorAll('button')].find((b) => b.textContent?.trim() === text);

async function show(page: unknown, props: Record<string, unknown>, api: ReturnType<typeof fakeApi>['api']) {
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted = mount(page as Component<Record<string, unknown>>, { target, props, context: contextFor(api, fakeShell(), secretsStore()) });
  await settle();
  flushSync();
}

describe('origins as a browser sends them', () => {
  it('derives the origins of web redirect URIs and refuses anything that is not an origin', () => {
    expect(originsOf(['https://app.example/cb', 'https://app.example/other', 'http://127.0.0.1:5173/cb', 'com.example.app:/cb']))
      .toEqual(['https://app.example', 'http://127.0.0.1:5173']);
    expect(originProblems('https://app.example\nhttps://app.example/')).toEqual([]);
    expect(originProblems('https://app.example/cb')[0]).toContain('has a path');
    expect(originProblems('ftp://app.example')[0]).toContain('not a web origin');
    expect(originProblems('app.example')[0]).toContain('not an origin');
  });
});

describe('the wizard: a single-page app', () => {
  it('explains its origins, follows the redirect URIs by default and sends the origins an admin sets', async () => {
    const { api, calls } = fakeApi({ clients: [] });
    let created: T.ClientCreated | null = null;
    await show(ClientWizard, { onclose: () => {}, oncreated: (c: T.ClientCreated) => { created = c; } }, api);
    click($('input[type=radio][value=spa]'));
    click($('[data-testid=wizard-next]'));
    await settle();
    expect(document.body.textContent).toContain('answers CORS');
    type('[data-testid=client-name]', 'Shop front');
    type('[data-testid=client-redirects]', 'https://shop.example/callback');
    const box = $('[data-testid=wizard-origins]')!;
    expect(box.textContent).toContain('https://shop.example');
    click($('[data-testid=wizard-own-origins]'));
    expect($<HTMLTextAreaElement>('[data-testid=wizard-origin-list]')!.value).toBe('https://shop.example');
    type('[data-testid=wizard-origin-list]', 'https://shop.example/app');
    expect($('[data-testid=origin-problems]')!.textContent).toContain('has a path');
    expect($<HTMLButtonElement>('[data-testid=wizard-create]')!.disabled).toBe(true);
    type('[data-testid=wizard-origin-list]', 'https://shop.example\nhttps://static.shop.example');
    click($('[data-testid=wizard-create]'));
    await settle();
    const req = calls.find((c) => c.name === 'clientCreate')!.args[0] as T.ClientCreateRequest;
    expect(req.allowed_origins).toEqual(['https://shop.example', 'https://static.shop.example']);
    expect(created).not.toBeNull();
  });

  it('a web app with a backend gets no origins section and sends none', async () => {
    const { api, calls } = fakeApi({ clients: [] });
    await show(ClientWizard, { onclose: () => {}, oncreated: () => {} }, api);
    click($('[data-testid=wizard-next]'));
    await settle();
    expect($('[data-testid=wizard-origins]')).toBeNull();
    type('[data-testid=client-name]', 'Portal');
    type('[data-testid=client-redirects]', 'https://portal.example/cb');
    click($('[data-testid=wizard-create]'));
    await settle();
    const req = calls.find((c) => c.name === 'clientCreate')!.args[0] as T.ClientCreateRequest;
    expect('allowed_origins' in req).toBe(false);
  });
});

describe('the client editor: DPoP and origins', () => {
  it('shows the binding and the origins in force, and saves only what changed', async () => {
    const c = client({
      client_id: 'c-spa', client_type: 'public', auth_method: 'none',
      redirect_uris: ['https://spa.example/cb'], allowed_origins: null, web_origins: ['https://spa.example'],
      dpop_bound_access_tokens: false,
    });
    const { api, calls } = fakeApi({ clients: [c] });
    await show(ClientEdit, { client: c, onclose: () => {}, onsaved: () => {} }, api);
    expect($<HTMLInputElement>('[data-testid=origins-follow]')!.checked).toBe(true);
    expect(document.body.textContent).toContain('Follow the redirect URIs (now https://spa.example)');
    expect(document.body.textContent).toContain('browser app');
    click($('[data-testid=dpop-bound]'));
    click(button('Save'));
    await settle();
    let upd = calls.filter((x) => x.name === 'clientUpdate').at(-1)!.args[1] as T.ClientUpdateRequest;
    expect(upd.dpop_bound_access_tokens).toBe(true);
    expect('allowed_origins' in upd).toBe(false);

    click($('[data-testid=origins-set]'));
    expect($<HTMLTextAreaElement>('[data-testid=client-origins]')!.value).toBe('https://spa.example');
    type('[data-testid=client-origins]', 'https://spa.example\nhttps://beta.spa.example/');
    click(button('Save'));
    await settle();
    upd = calls.filter((x) => x.name === 'clientUpdate').at(-1)!.args[1] as T.ClientUpdateRequest;
    expect(upd.allowed_origins).toEqual(['https://spa.example', 'https://beta.spa.example']);
  });

  it('going back to the redirect URIs sends null, and a bad origin blocks Save', async () => {
    const c = client({ client_id: 'c-set', client_type: 'public', auth_method: 'none', redirect_uris: ['https://a.example/cb'], allowed_origins: ['https://b.example'] });
    const { api, calls } = fakeApi({ clients: [c] });
    await show(ClientEdit, { client: c, onclose: () => {}, onsaved: () => {} }, api);
    expect($<HTMLInputElement>('[data-testid=origins-set]')!.checked).toBe(true);
    type('[data-testid=client-origins]', 'https://b.example/path');
    expect((button('Save') as HTMLButtonElement).disabled).toBe(true);
    click($('[data-testid=origins-follow]'));
    click(button('Save'));
    await settle();
    const upd = calls.filter((x) => x.name === 'clientUpdate').at(-1)!.args[1] as T.ClientUpdateRequest;
    expect(upd.allowed_origins).toBeNull();
  });
});

describe('Try it with DPoP and PAR', () => {
  const result: T.ClientTryResult = {
    grant: 'authorization_code', access_token: 'eyJ.at.x', id_token: null, expires_in: 600, scope: 'openid',
    refresh_token_issued: false, redirect_uri: 'http://127.0.0.1/cb', token_type: 'DPoP', dpop_jkt: 'jkt-123', pushed: true,
  } as T.ClientTryResult;

  it('a client that must push and bind runs so, and the result names the key', async () => {
    const c = client({
      client_id: 'c-fapi', client_type: 'public', auth_method: 'none', grant_types: ['authorization_code'],
      redirect_uris: ['http://127.0.0.1/cb'], require_pushed_authorization_requests: true, dpop_bound_access_tokens: true,
    });
    const { api, calls } = fakeApi({ clients: [c], tryResult: result });
    await show(ClientTry, { client: c, onclose: () => {} }, api);
    const d = $<HTMLInputElement>('[data-testid=try-dpop-box]')!;
    const p = $<HTMLInputElement>('[data-testid=try-par-box]')!;
    expect(d.checked && d.disabled).toBe(true);
    expect(p.checked && p.disabled).toBe(true);
    click($('[data-testid=try-run]'));
    await settle();
    flushSync();
    const req = calls.find((x) => x.name === 'clientTry')!.args[0] as T.ClientTryRequest;
    expect(req.dpop).toBe(true);
    expect(req.par).toBe(true);
    expect($('[data-testid=try-dpop]')!.textContent).toContain('jkt-123');
    expect($('[data-testid=try-pushed]')).not.toBeNull();
  });

  it('for another client both are choices, off until ticked, and PAR only for the code flow', async () => {
    const c = client({ client_id: 'c-m2m', grant_types: ['client_credentials'], auth_method: 'client_secret_basic' });
    const { api, calls } = fakeApi({ clients: [c], tryResult: { ...result, grant: 'client_credentials', pushed: false } });
    await show(ClientTry, { client: c, onclose: () => {} }, api);
    expect($('[data-testid=try-par-box]')).toBeNull();
    const d = $<HTMLInputElement>('[data-testid=try-dpop-box]')!;
    expect(d.checked || d.disabled).toBe(false);
    type('[data-testid=try-secret]', 's3cret');
    click($('[data-testid=try-run]'));
    await settle();
    expect((calls.find((x) => x.name === 'clientTry')!.args[0] as T.ClientTryRequest).dpop).toBe(false);
  });
});

describe('the wizard: machine to machine (issue 12)', () => {
  it('offers only scopes client credentials can use and does not speak of a consent page', async () => {
    const { api } = fakeApi({
      clients: [],
      scopes: [
        { name: 'openid', description: 'Sign you in', claims: ['sub'], builtin: true, created_at: 0 },
        { name: 'offline_access', description: 'Stay signed in', claims: [], builtin: true, created_at: 0 },
        { name: 'orders:read', description: 'Read orders', claims: [], builtin: false, created_at: 0 },
      ] as T.ScopeDto[],
    });
    await show(ClientWizard, { onclose: () => {}, oncreated: () => {} }, api);
    click($('input[type=radio][value=machine]'));
    click($('[data-testid=wizard-next]'));
    await settle();
    flushSync();
    const offered = [...document.querySelectorAll('.scopes code')].map((c) => c.textContent);
    expect(offered).toEqual(['orders:read']);
    expect(document.body.textContent).not.toContain('consent page');
  });
});
