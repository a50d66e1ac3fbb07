// Issue 12, the console's edges: one-time secrets (2), the isolation frame (5), adding
// and switching connections (6), keyboard in dialogs (7), unsaved settings (8). Each
// through the App as a person meets it, on the fake backend.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import { readFileSync } from 'node:fs';
import { fakeApi, client, session, settle } from './fake-api';
import type * as T from '../src/lib/types';
import App from '../src/App.svelte';
import { asEnv, clientCredentials } from '../src/lib/secrets.svelte';
import { quietIsolationFrame } from '../src/lib/isolation-frame';
import { openDialogs } from '../src/components/Modal.svelte';

let mounted: ReturnType<typeof mount> | null = null;
let copied: string[] = [];
beforeEach(() => {
  copied = [];
  vi.spyOn(navigator.clipboard, 'writeText').mockImplementation(async (v: string) => {
    copied.push(v);
  });
});
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
  vi.restoreAllMocks();
});

async function app(api: ReturnType<typeof fakeApi>['api']): Promise<HTMLElement> {
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted = mount(App, { target, props: { api } });
  await settle(10);
  flushSync();
  return target;
}

const $ = <E extends Element = HTMLElement>(sel: string) => document.querySelector<E & HTMLElement>(sel);
const $$ = (sel: string) => [...document.querySelectorAll<HTMLElement>(sel)];
const byText = (sel: string, text: string) => $$(sel).find((e) => e.textContent?.trim() === text);
/** The dialog on top (the last one opened). */
const top = () => $$('[role=dialog]').at(-1)!;
const inTop = (text: string) => [...top().querySelectorAll<HTMLElement>('button')].find((e) => e.textContent?.trim() === text);

function click(el: Element | undefined | null) {
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

/** A key pressed with focus on <body> (after a click on the backdrop, say). */
function keyOnBody(key: string, opts: KeyboardEventInit = {}) {
  (document.activeElement as HTMLElement | null)?.blur?.();
  document.body.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true, ...opts }));
  flushSync();
}

async function go(page: string) {
  click($(`#nav-${page}`));
  await settle();
  flushSync();
}

/** Registers a machine client through the wizard, from the Clients page. */
async function registerMachineClient(name: string) {
  await go('clients');
  click($('[data-testid=new-client]'));
  click($('input[type=radio][value=machine]'));
  click($('[data-testid=wizard-next]'));
  type('[data-testid=client-name]', name);
  click($('[data-testid=wizard-create]'));
  await settle();
  flushSync();
}

describe('issue 12 §2: every value shown once, in one dialog', () => {
  it('a new machine client: client id, secret and token endpoint together, as .env and JSON', async () => {
    const { api } = fakeApi({ clients: [] });
    await app(api);
    await registerMachineClient('Nightly job');
    const dialog = $('[data-testid=secret-dialog]')!;
    expect(dialog.getAttribute('role')).toBe('dialog');
    expect(dialog.getAttribute('aria-label')).toBe('Client secret of Nightly job');
    expect($('[data-testid=secret-value]')?.textContent).toBe('the-one-time-secret');
    const id = $('[data-testid=secret-field-client_id]')!.textContent!;
    expect(id).toMatch(/^c-/);
    expect($('[data-testid=secret-field-token_endpoint]')?.textContent).toBe('http://127.0.0.1:9280/token');
    expect(dialog.textContent).toContain('Connection: latchkey.db');
    click($('[data-testid=copy-env]'));
    await settle();
    expect(copied.at(-1)).toBe(`OAUTH_CLIENT_ID=${id}\nOAUTH_CLIENT_SECRET=the-one-time-secret\nOAUTH_TOKEN_ENDPOINT=http://127.0.0.1:9280/token\nOAUTH_ISSUER=http://127.0.0.1:9280\n`);
    click($('[data-testid=copy-json]'));
    await settle();
    expect(JSON.parse(copied.at(-1)!)).toEqual({
      client_id: id, client_secret: 'the-one-time-secret', token_endpoint: 'http://127.0.0.1:9280/token', issuer: 'http://127.0.0.1:9280',
    });
    // Copied: closing does not ask, and the secret is gone from the page.
    click($('[data-testid=secret-done]'));
    expect($('[data-testid=secret-dialog]')).toBeNull();
    expect(document.body.innerHTML).not.toContain('the-one-time-secret');
  });

  it('Escape does not close it, even with focus outside; it says how to close instead', async () => {
    const { api } = fakeApi({ clients: [] });
    await app(api);
    await registerMachineClient('Batch');
    keyOnBody('Escape');
    $('[data-testid=secret-value]')!.closest('[role=dialog]')!.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    flushSync();
    expect($('[data-testid=secret-value]')?.textContent).toBe('the-one-time-secret');
    expect($('[data-testid=secret-esc-hint]')?.textContent).toContain('shown only once');
  });

  it('closing before anything was copied asks; going back keeps it, confirming drops it', async () => {
    const { api } = fakeApi({ clients: [] });
    await app(api);
    await registerMachineClient('Batch');
    click($('[data-testid=secret-done]'));
    expect($('[data-testid=secret-ask]')?.textContent).toContain('Nothing was copied');
    click($('[data-testid=secret-back]'));
    expect($('[data-testid=secret-ask]')).toBeNull();
    expect($('[data-testid=secret-value]')).toBeTruthy();
    // The ✕ asks the same.
    click($('[data-testid=secret-dialog] button.x'));
    expect($('[data-testid=secret-ask]')).toBeTruthy();
    click($('[data-testid=secret-discard]'));
    expect($('[data-testid=secret-dialog]')).toBeNull();
    expect(document.body.innerHTML).not.toContain('the-one-time-secret');
  });

  it('a copy made with the keyboard (Ctrl+C on the selected value) counts as copied', async () => {
    const { api } = fakeApi({ clients: [] });
    await app(api);
    await registerMachineClient('Batch');
    $('[data-testid=secret-value]')!.dispatchEvent(new Event('copy', { bubbles: true }));
    flushSync();
    click($('[data-testid=secret-done]'));
    expect($('[data-testid=secret-dialog]')).toBeNull();
  });

  it('survives a page change (and the page it came from going away) until dismissed, and is never stored', async () => {
    const { api } = fakeApi({ clients: [] });
    await app(api);
    await registerMachineClient('Batch');
    await go('sessions');
    expect($('[aria-current=page]')?.textContent).toBe('Sessions');
    expect($('[data-testid=secret-value]')?.textContent).toBe('the-one-time-secret');
    await go('settings');
    expect($('[data-testid=secret-value]')?.textContent).toBe('the-one-time-secret');
    const stored = JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie + location.href;
    expect(stored).not.toContain('the-one-time-secret');
  });

  it('a rotated secret comes with its client id, endpoint and when the old one stops', async () => {
    const c = client({ name: 'Billing' });
    const { api, calls } = fakeApi({ clients: [c] });
    await app(api);
    await go('clients');
    click($('button[aria-label="Rotate secret of Billing"]'));
    click(byText('[role=dialog] button', 'Rotate secret'));
    await settle();
    flushSync();
    expect(calls.some((x) => x.name === 'clientRotateSecret')).toBe(true);
    expect($('[data-testid=secret-dialog]')?.getAttribute('aria-label')).toBe('New client secret of Billing');
    expect($('[data-testid=secret-value]')?.textContent).toBe('rotated-secret');
    expect($('[data-testid=secret-field-client_id]')?.textContent).toBe(c.client_id);
    expect($('[data-testid=secret-dialog]')?.textContent).toContain('previous secret keeps working until');
  });

  it('the first admin password and a new API key use the same dialog; two wait in turn', async () => {
    const { api } = fakeApi({ password: 'generated-pw', clients: [] });
    await app(api);
    expect($('[data-testid=secret-dialog]')?.getAttribute('aria-label')).toBe('Your admin account');
    expect($('[data-testid=secret-value]')?.textContent).toBe('generated-pw');
    expect($('[data-testid=secret-field-username]')?.textContent).toBe('admin');
    keyOnBody('Escape');
    expect($('[data-testid=secret-value]')?.textContent).toBe('generated-pw');
    // An API key made meanwhile (the page behind is reachable with Alt+0) waits its turn.
    keyOnBody('0', { altKey: true });
    await settle();
    flushSync();
    type('#key-name', 'backup');
    $<HTMLFormElement>('form[aria-label="Create an API key"]')!.requestSubmit();
    await settle();
    flushSync();
    expect($('[data-testid=secret-waiting]')?.textContent).toContain('1 more');
    click($('[data-testid=copy-secret]'));
    await settle();
    click($('[data-testid=secret-done]'));
    expect($('[data-testid=secret-dialog]')?.getAttribute('aria-label')).toBe('API key backup');
    expect($('[data-testid=secret-value]')?.textContent).toBe('lk_secret');
    click($('[data-testid=copy-env]'));
    await settle();
    expect(copied.at(-1)).toBe('LATCHKEY_API_KEY=lk_secret\n');
  });

  it('.env values that need it are quoted', () => {
    const f = clientCredentials({ client_id: 'a b', name: 'x' }, "it's", null);
    expect(asEnv(f)).toBe(`OAUTH_CLIENT_ID='a b'\nOAUTH_CLIENT_SECRET='it'\\''s'\n`);
  });
});

describe('issue 12 §5: the isolation frame is out of the way', () => {
  it('names the frame Tauri adds later, and takes it out of the Tab order and the accessibility tree', async () => {
    quietIsolationFrame(document);
    const f = document.createElement('iframe');
    f.id = '__tauri_isolation__';
    document.body.append(f);
    await settle();
    expect(f.getAttribute('title')).toMatch(/isolation/i);
    expect(f.getAttribute('tabindex')).toBe('-1');
    expect(f.getAttribute('aria-hidden')).toBe('true');
  });

  it('the stylesheet takes the frame out of the flow and never lets the window scroll', () => {
    const css = readFileSync(`${process.cwd()}/src/app.css`, 'utf8');
    const rule = css.match(/#__tauri_isolation__\s*\{([^}]*)\}/)?.[1] ?? '';
    expect(rule).toMatch(/position:\s*fixed/);
    expect(rule).toMatch(/width:\s*0/);
    expect(rule).toMatch(/height:\s*0/);
    expect(css).toMatch(/html, body \{[^}]*overflow: hidden/);
  });
});

describe('issue 12 §6: adding and switching connections', () => {
  async function openAdd(api: ReturnType<typeof fakeApi>['api']) {
    const t = await app(api);
    click($('[data-testid=connection-badge]'));
    await settle();
    flushSync();
    click($('[data-testid=add-connection]'));
    await settle();
    return t;
  }

  it('a path that does not exist is asked about, not created; Cancel goes back to the path', async () => {
    const { api, calls } = fakeApi();
    const t = await openAdd(api);
    click($('input[type=radio][name=kind][value=embedded]'));
    expect($$('input[type=checkbox]').some((b) => /create/i.test(b.closest('label')?.textContent ?? ''))).toBe(false);
    type('[data-testid=conn-name]', 'Staging');
    type('[data-testid=conn-path]', '/tmp/stagnig.db');
    click($('[data-testid=conn-connect]'));
    await settle(10);
    flushSync();
    const adds = () => calls.filter((c) => c.name === 'connectionAdd').map((c) => c.args[0] as T.ConnectionAddRequest);
    expect(adds().map((r) => r.create)).toEqual([false]);
    expect($('[data-testid=conn-create-ask]')?.textContent).toContain('/tmp/stagnig.db');
    expect(t.querySelector<HTMLElement>('[data-testid=connection-badge]')!.dataset.kind).toBe('embedded');
    expect(t.querySelector('[data-testid=connection-name]')?.textContent).toBe('latchkey.db');
    click(inTop('Cancel'));
    await settle();
    flushSync();
    expect(adds().length).toBe(1);
    expect(document.activeElement).toBe($('[data-testid=conn-path]'));
    // Asked again and confirmed: now it is created.
    click($('[data-testid=conn-connect]'));
    await settle(10);
    flushSync();
    click($('[data-testid=conn-create-confirm]'));
    await settle(10);
    flushSync();
    expect(adds().map((r) => r.create)).toEqual([false, false, true]);
    expect(t.querySelector('[data-testid=connection-name]')?.textContent).toBe('Staging');
  });

  it('an existing file opens at once, without asking', async () => {
    const { api, calls } = fakeApi({ files: ['/tmp/other.db'] });
    const t = await openAdd(api);
    click($('input[type=radio][name=kind][value=embedded]'));
    type('[data-testid=conn-name]', 'Other');
    type('[data-testid=conn-path]', '/tmp/other.db');
    click($('[data-testid=conn-connect]'));
    await settle(10);
    flushSync();
    expect($('[data-testid=conn-create-ask]')).toBeNull();
    expect(calls.filter((c) => c.name === 'connectionAdd').length).toBe(1);
    expect(t.querySelector('[data-testid=connection-name]')?.textContent).toBe('Other');
  });

  it('switching away from an embedded store apps are signed in to says how many and asks', async () => {
    const { api, calls } = fakeApi({
      sessions: [session(1), session(2), session(3)],
      connections: [
        { id: 'local', name: 'latchkey.db', colour: 'green', kind: 'embedded', location: '/tmp/latchkey.db', issuer: null, auth: null, active: true, signed_in: false },
        { id: 'stg', name: 'Staging', colour: 'amber', kind: 'remote', location: 'https://stg.example.com', issuer: null, auth: 'browser', active: false, signed_in: true },
      ],
    });
    const t = await app(api);
    click($('[data-testid=connection-badge]'));
    await settle();
    flushSync();
    click($('[aria-label="Switch to Staging"]'));
    await settle();
    flushSync();
    expect($('[data-testid=conn-leave-impact]')?.textContent).toMatch(/3\s+live sessions/);
    expect($('[data-testid=conn-leave-impact]')?.textContent).toContain('http://127.0.0.1:9280');
    expect(calls.some((c) => c.name === 'connectionOpen')).toBe(false);
    // Escape closes that question only, not the switcher under it.
    keyOnBody('Escape');
    expect($('[data-testid=conn-leave-impact]')).toBeNull();
    expect($('[aria-label="Switch to Staging"]')).toBeTruthy();
    click($('[aria-label="Switch to Staging"]'));
    await settle();
    flushSync();
    click($('[data-testid=conn-leave-confirm]'));
    await settle(10);
    flushSync();
    expect(calls.find((c) => c.name === 'connectionOpen')?.args).toEqual(['stg', null]);
    expect(t.querySelector<HTMLElement>('[data-testid=connection-badge]')!.dataset.kind).toBe('remote');
  });

  it('with no one signed in, switching does not ask', async () => {
    const { api, calls } = fakeApi({
      sessions: [],
      connections: [
        { id: 'local', name: 'latchkey.db', colour: 'green', kind: 'embedded', location: '/tmp/latchkey.db', issuer: null, auth: null, active: true, signed_in: false },
        { id: 'stg', name: 'Staging', colour: 'amber', kind: 'remote', location: 'https://stg.example.com', issuer: null, auth: 'browser', active: false, signed_in: true },
      ],
    });
    await app(api);
    click($('[data-testid=connection-badge]'));
    await settle();
    flushSync();
    click($('[aria-label="Switch to Staging"]'));
    await settle(10);
    flushSync();
    expect($('[data-testid=conn-leave-impact]')).toBeNull();
    expect(calls.find((c) => c.name === 'connectionOpen')?.args).toEqual(['stg', null]);
  });

  it('a new connection gets a colour no other connection has, and a taken one is pointed out', async () => {
    const { api } = fakeApi({
      connections: [
        { id: 'local', name: 'latchkey.db', colour: 'green', kind: 'embedded', location: '/tmp/latchkey.db', issuer: null, auth: null, active: true, signed_in: false },
        { id: 'stg', name: 'Staging', colour: 'teal', kind: 'remote', location: 'https://stg.example.com', issuer: null, auth: 'api_key', active: false, signed_in: true },
      ],
    });
    await openAdd(api);
    expect($<HTMLInputElement>('input[name=colour]:checked')?.value).toBe('purple');
    expect($('[data-testid=colour-taken]')).toBeNull();
    click($('[data-testid=colour-teal]'));
    expect($('[data-testid=colour-taken]')?.textContent).toContain('Staging');
    // Focus went into the form on opening it.
    expect($('form[aria-label="Add a connection"]')!.contains(document.activeElement)).toBe(true);
  });
});

describe('issue 12 §7: keyboard in dialogs', () => {
  it('Escape closes the top dialog while focus is on the page, not only inside it', async () => {
    const { api } = fakeApi({ clients: [client({ name: 'Billing' })] });
    await app(api);
    await go('clients');
    click($('button[aria-label="Rotate secret of Billing"]'));
    expect(openDialogs()).toBe(1);
    keyOnBody('Escape');
    expect($('[role=dialog]')).toBeNull();
    expect(openDialogs()).toBe(0);
  });

  it('Tab with focus outside the open dialog goes into it', async () => {
    const { api } = fakeApi({ clients: [client({ name: 'Billing' })] });
    await app(api);
    await go('clients');
    click($('button[aria-label="Rotate secret of Billing"]'));
    keyOnBody('Tab');
    expect($('[role=dialog]')!.contains(document.activeElement)).toBe(true);
  });

  it('the wizard: each step starts on its first field, and Cancel gives focus back to the opener', async () => {
    const { api } = fakeApi({ clients: [] });
    await app(api);
    await go('clients');
    const opener = $('[data-testid=new-client]')!;
    click(opener);
    // Step 1: the picked kind.
    expect(document.activeElement).toBe($('input[type=radio][value=web]'));
    click($('input[type=radio][value=device]'));
    click($('[data-testid=wizard-next]'));
    await settle();
    expect(document.activeElement).toBe($('[data-testid=client-name]'));
    click(byText('[role=dialog] button', 'Back'));
    await settle();
    expect(document.activeElement).toBe($('input[type=radio][value=device]'));
    click($('[data-testid=wizard-next]'));
    await settle();
    click(byText('[role=dialog] button', 'Cancel'));
    await settle();
    expect($('[role=dialog]')).toBeNull();
    expect(document.activeElement).toBe(opener);
  });

  it('focus never falls to the body when the opener is gone: it goes to the page', async () => {
    const { api } = fakeApi({ clients: [client({ name: 'Billing' })] });
    await app(api);
    await go('clients');
    click($('button[aria-label="Rotate secret of Billing"]'));
    $('button[aria-label="Rotate secret of Billing"]')!.remove();
    keyOnBody('Escape');
    expect(document.activeElement).not.toBe(document.body);
    expect(document.activeElement?.id).toBe('main');
  });
});

describe('issue 12 §8: unsaved server settings', () => {
  async function editSetting(): Promise<HTMLElement> {
    const { api, calls } = fakeApi();
    const t = await app(api);
    await go('settings');
    await settle();
    flushSync();
    type('#setting-code_ttl', '2');
    return Object.assign(t, { calls });
  }

  it('an edit brings up a sticky save bar with the count', async () => {
    await editSetting();
    const bar = $('[data-testid=settings-savebar]')!;
    expect(bar.classList.contains('sticky')).toBe(true);
    expect($('[data-testid=settings-unsaved]')?.textContent).toBe('1 unsaved change');
  });

  it('leaving the page asks; Stay keeps the edit, Discard leaves', async () => {
    await editSetting();
    await go('keys');
    expect($('[data-testid=leave-dialog]')?.textContent).toContain('authorization code');
    expect($('[aria-current=page]')?.textContent).toBe('Settings');
    click($('[data-testid=leave-stay]'));
    expect($<HTMLInputElement>('#setting-code_ttl')?.value).toBe('2');
    // Escape is "stay" too.
    await go('keys');
    keyOnBody('Escape');
    expect($('[aria-current=page]')?.textContent).toBe('Settings');
    await go('keys');
    click($('[data-testid=leave-discard]'));
    await settle();
    flushSync();
    expect($('[aria-current=page]')?.textContent).toBe('Keys');
  });

  it('opening the connection switcher with unsaved settings asks first; saved settings leave freely', async () => {
    const t = (await editSetting()) as HTMLElement & { calls: { name: string }[] };
    click($('[data-testid=connection-badge]'));
    expect($('[data-testid=leave-dialog]')).toBeTruthy();
    expect($('[data-testid=add-connection]')).toBeNull();
    click($('[data-testid=leave-stay]'));
    click($('[data-testid=settings-save]'));
    await settle();
    flushSync();
    expect(t.calls.some((c) => c.name === 'settingsUpdate')).toBe(true);
    expect($('[data-testid=settings-savebar]')!.classList.contains('sticky')).toBe(false);
    await go('keys');
    expect($('[data-testid=leave-dialog]')).toBeNull();
    expect($('[aria-current=page]')?.textContent).toBe('Keys');
  });
});
