// Issue 12, the last gaps: dashboard cards that drill down, "peak" only with traffic,
// audit periods, one row for one key rotation read key by key, the JWKS drawer, the key
// timeline's axis, labels and next rotation, Try it's test copy, the collapsible sidebar
// and native checkboxes in the dark theme.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushSync, mount, unmount, type Component } from 'svelte';
import { readFileSync } from 'node:fs';
import { contextFor } from '../src/lib/context';
import type * as T from '../src/lib/types';
import { secretsStore } from '../src/lib/secrets.svelte';
import { dayStart } from '../src/lib/format';
import { groupRotations, keyChanges } from '../src/lib/keyaudit';
import { fakeApi, fakeShell, client, settle, NOW } from './fake-api';
import Dashboard from '../src/pages/Dashboard.svelte';
import Audit from '../src/pages/Audit.svelte';
import Keys from '../src/pages/Keys.svelte';
import Clients from '../src/pages/Clients.svelte';
import App from '../src/App.svelte';
import Scopes from '../src/pages/Scopes.svelte';

let mounted: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
  localStorage.clear();
});

type Api = ReturnType<typeof fakeApi>['api'];
function render(page: unknown, api: Api, props: Record<string, unknown> = {}, shell = fakeShell(), secrets = secretsStore()) {
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted = mount(page as Component<Record<string, unknown>>, { target, props, context: contextFor(api, shell, secrets) });
  return target;
}
const $ = (sel: string) => document.querySelector<HTMLElement>(sel);
const $$ = (sel: string) => [...document.querySelectorAll<HTMLElement>(sel)];
function click(el: Element | null | undefined) {
  if (!el) throw new Error('nothing to click');
  (el as HTMLElement).click();
  flushSync();
}
async function ready() {
  await settle();
  flushSync();
}

describe('the Dashboard cards', () => {
  it('each open the view their number counts; failed authentications open the last hour of security events', async () => {
    const shell = fakeShell();
    const went: [string, string | undefined][] = [];
    shell.go = (p, arg) => { went.push([p, arg]); };
    const { api } = fakeApi({ clients: [client()] });
    render(Dashboard, api, { pollMs: 600_000 }, shell);
    await ready();
    for (const c of ['clients', 'users', 'sessions', 'failed']) click($(`[data-testid=card-${c}]`));
    expect(went).toEqual([['clients', undefined], ['users', undefined], ['sessions', undefined], ['audit', 'security:hour']]);
    // Every card is a button with its number and words as its name.
    for (const b of $$('button.stat')) expect(b.textContent!.trim().length).toBeGreaterThan(3);
  });

  it('name the client a failed client authentication is about, the id on hover, and drill down by id', async () => {
    const shell = fakeShell();
    const went: [string, string | undefined][] = [];
    shell.go = (p, arg) => { went.push([p, arg]); };
    const billing = client({ client_id: 'c-7f3a', name: 'Billing service' });
    const { api } = fakeApi({ clients: [billing], audit: [{ id: 1, at: NOW, actor: 'anonymous', action: 'security.client_auth_failed', target: 'c-7f3a', before: null, after: null, ip: null, security: true }] });
    render(Dashboard, api, { pollMs: 600_000 }, shell);
    await ready();
    const b = $('[data-testid=dash-event-subject]')!;
    expect(b.textContent).toBe('Billing service');
    expect(b.title).toBe('c-7f3a');
    click(b);
    expect(went).toEqual([['security', 'client:c-7f3a']]);
  });

  it('says "peak" only when tokens were issued', async () => {
    const quiet = fakeApi({});
    render(Dashboard, quiet.api, { pollMs: 600_000 });
    await ready();
    expect($('[data-testid=chart-summary]')!.textContent).toBe('0 in the last hour');
    unmount(mounted!);
    mounted = null;
    document.body.innerHTML = '';

    const busy = fakeApi({});
    const minute = Math.floor(NOW / 60) * 60;
    busy.api.statsGet = async () => ({
      window_minutes: 60, active_sessions: 0, clients: 0, users: 1, failed_authentications: 0, security_events: [],
      tokens_per_minute: [
        { minute, grant_type: 'authorization_code', client_id: 'a', count: 3 },
        { minute, grant_type: 'refresh_token', client_id: 'a', count: 2 },
        { minute: minute - 60, grant_type: 'client_credentials', client_id: 'b', count: 1 },
      ],
    } as T.StatsDto);
    render(Dashboard, busy.api, { pollMs: 600_000 });
    await ready();
    expect($('[data-testid=chart-summary]')!.textContent).toBe('6 in the last hour · peak 5/min');
  });
});

describe('the Audit periods', () => {
  const last = (calls: { name: string; args: unknown[] }[]) => calls.filter((c) => c.name === 'auditList').at(-1)!.args[0] as T.AuditFilterDto;

  it('opened from the failed-authentications card, asks for the security events of the last hour and shows that choice', async () => {
    const { api, calls } = fakeApi({ audit: [] });
    render(Audit, api, { initial: 'security:hour' });
    await ready();
    const f = last(calls);
    expect(f.security_only).toBe(true);
    expect(Math.abs((f.since ?? 0) - (Math.floor(Date.now() / 1000) - 3600))).toBeLessThan(5);
    expect(f.until ?? null).toBeNull();
    expect($('[data-testid=period-hour]')!.getAttribute('aria-pressed')).toBe('true');
  });

  it('asks for the last 7 local days in one click, and a range from the first local midnight to the end of the last day', async () => {
    const { api, calls } = fakeApi({ audit: [] });
    render(Audit, api);
    await ready();
    click($('[data-testid=period-week]'));
    await ready();
    expect(last(calls)).toMatchObject({ since: dayStart(6), until: null });
    click($('[data-testid=period-range]'));
    const from = $('[data-testid=period-from]') as HTMLInputElement;
    const to = $('[data-testid=period-to]') as HTMLInputElement;
    from.value = '2026-03-01';
    from.dispatchEvent(new Event('input', { bubbles: true }));
    from.dispatchEvent(new Event('change', { bubbles: true }));
    to.value = '2026-03-02';
    to.dispatchEvent(new Event('input', { bubbles: true }));
    to.dispatchEvent(new Event('change', { bubbles: true }));
    await ready();
    const midnight = (y: number, m: number, d: number) => Math.floor(new Date(y, m - 1, d).getTime() / 1000);
    expect(last(calls)).toMatchObject({ since: midnight(2026, 3, 1), until: midnight(2026, 3, 3) });
  });
});

describe('the Audit filters', () => {
  it('accept a name or an email for the actor and the target, and send the id the log records', async () => {
    vi.useFakeTimers();
    try {
      const users = [{ id: 'u-1', username: 'alice', email: 'alice@example.com', email_verified: true, name: 'Alice Long-Name', disabled: false, is_admin: true, password_changed_at: NOW, created_at: NOW }] as T.UserDto[];
      const { api, calls } = fakeApi({ audit: [], users, clients: [client({ client_id: 'c-7f3a', name: 'Billing service' })] });
      render(Audit, api);
      await vi.advanceTimersByTimeAsync(0);
      flushSync();
      // Typing filters after the debounce (300 ms), on the fixed clock.
      const type = async (sel: string, value: string) => {
        const input = $(sel) as HTMLInputElement;
        input.value = value;
        input.dispatchEvent(new Event('input', { bubbles: true }));
        flushSync();
        await vi.advanceTimersByTimeAsync(300);
        flushSync();
      };
      const last = () => calls.filter((c) => c.name === 'auditList').at(-1)!.args[0] as T.AuditFilterDto;
      await type('#a-actor', 'Alice@Example.com');
      expect(last().actor).toBe('user:u-1');
      await type('#a-target', 'billing service');
      expect(last()).toMatchObject({ actor: 'user:u-1', target: 'c-7f3a' });
      await type('#a-actor', 'local-admin');
      expect(last().actor).toBe('local-admin');
      await type('#a-actor', 'Billing service');
      expect(last().actor).toBe('client:c-7f3a');
    } finally {
      vi.useRealTimers();
    }
  });
});

// What the core records for "Rotate all now" (key_lifecycle.rs `apply_key_plan`): per
// algorithm the swap, then the successor it publishes, newest first as the log lists them.
function rotationEvents(at: number, firstId: number): T.AuditEventDto[] {
  const out: T.AuditEventDto[] = [];
  let id = firstId;
  for (const alg of ['RS256', 'ES256', 'EdDSA']) {
    const sum = (kid: string, state: string) => ({ kid, alg, state, created_at: at - 86400, activated_at: null, retiring_at: null, retired_at: null, revoked_at: null });
    out.push({ id: id++, at, actor: 'local-admin', action: 'key.rotate', target: alg, ip: null, security: false,
      before: [sum(`${alg}-old`, 'active'), sum(`${alg}-next`, 'next')],
      after: { changes: [{ kid: `${alg}-old`, state: 'retiring' }, { kid: `${alg}-next`, state: 'active' }], new_key: null } });
    out.push({ id: id++, at, actor: 'local-admin', action: 'key.rotate', target: alg, ip: null, security: false,
      before: [], after: { changes: [], new_key: sum(`${alg}-new`, 'next') } });
  }
  return out.reverse();
}

describe('key events in the audit log', () => {
  it('shows one rotation of every key as one row, and each key\'s state before → after', async () => {
    const other = { id: 1, at: NOW - 7200, actor: 'local-admin', action: 'key.rotate', target: 'RS256', ip: null, security: false,
      before: [], after: { changes: [], new_key: { kid: 'RS256-old', alg: 'RS256', state: 'next' } } } as T.AuditEventDto;
    const { api } = fakeApi({ audit: [...rotationEvents(NOW - 60, 10), other] });
    const t = render(Audit, api);
    await ready();
    const rows = $$('[data-testid=audit-row]');
    expect(rows.length).toBe(2);
    expect(rows[0].querySelector('[data-testid=audit-steps]')!.textContent).toBe('in 6 steps');
    expect(rows[0].textContent).toContain('ES256, EdDSA, RS256');
    expect(rows[1].querySelector('[data-testid=audit-steps]')).toBeNull();
    click(rows[0].querySelector('button[aria-expanded]'));
    const lines = $$('[data-testid=diff-line]').map((l) => [...l.querySelectorAll('td')].map((c) => c.textContent!.trim()));
    expect(lines).toContainEqual(['RS256 RS256-old', 'active', '→', 'retiring']);
    expect(lines).toContainEqual(['RS256 RS256-next', 'next', '→', 'active']);
    expect(lines).toContainEqual(['RS256 RS256-new', 'not published', '→', 'next (new key)']);
    expect(lines.length).toBe(9);
    expect(t.textContent).not.toContain('"changes"');
  });

  it('keeps rotations by another actor or minutes apart as rows of their own, and reads an emergency revoke key by key', () => {
    const a = rotationEvents(NOW - 60, 10);
    const b = rotationEvents(NOW - 600, 20).map((e) => ({ ...e, actor: 'system' }));
    expect(groupRotations([...a, ...b]).map((r) => r.parts?.length ?? 1)).toEqual([6, 6]);
    expect(groupRotations([...a.slice(0, 2), { ...a[2], at: NOW - 300 }]).map((r) => r.parts?.length ?? 1)).toEqual([2, 1]);
    const revoke = { id: 5, at: NOW, actor: 'local-admin', action: 'key.revoke', target: 'RS256-old', ip: null, security: true,
      before: { kid: 'RS256-old', alg: 'RS256', state: 'active' },
      after: { changes: [{ kid: 'RS256-old', state: 'revoked' }, { kid: 'RS256-next', state: 'active' }], new_key: null } } as T.AuditEventDto;
    expect(keyChanges(revoke).map((c) => [c.field, c.before, c.after])).toEqual([['RS256 RS256-old', 'active', 'revoked'], ['RS256 RS256-next', '', 'active']]);
  });
});

describe('the Keys page', () => {
  const key = (kid: string, state: string, created: number, over: Partial<T.KeyDto> = {}): T.KeyDto =>
    ({ kid, alg: 'ES256', state, public_jwk: {}, created_at: created, activated_at: state === 'next' ? null : created, retiring_at: state === 'retiring' ? NOW - 3600 : null, retired_at: null, revoked_at: null, ...over } as T.KeyDto);

  it('opens the JWKS in a drawer beside the page, copyable, and closes it with Escape', async () => {
    const { api } = fakeApi({ keys: [key('ES256-a', 'active', NOW - 86400)] });
    api.jwksGet = async () => ({ keys: [{ kid: 'ES256-a', kty: 'EC', crv: 'P-256' }] });
    render(Keys, api);
    await ready();
    click($('[data-testid=jwks-open]'));
    const drawer = $('[data-testid=jwks-drawer]')!;
    expect(drawer.classList.contains('drawer')).toBe(true);
    expect(drawer.getAttribute('role')).toBe('dialog');
    expect(drawer.getAttribute('aria-label')).toBe('JWKS as relying parties see it');
    expect(JSON.parse($('[data-testid=jwks-json]')!.textContent!)).toEqual({ keys: [{ kid: 'ES256-a', kty: 'EC', crv: 'P-256' }] });
    expect(drawer.querySelector('button[aria-label="Copy the JWKS"]')).toBeTruthy();
    document.body.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    flushSync();
    expect($('[data-testid=jwks-drawer]')).toBeNull();
  });

  it('draws the timeline with a date axis, a legend in words and the next rotation', async () => {
    const { api } = fakeApi({ keys: [key('ES256-old', 'retiring', NOW - 40 * 86400), key('ES256-a', 'active', NOW - 10 * 86400), key('ES256-n', 'next', NOW - 86400)] });
    const next = NOW + 2 * 86400;
    api.keysScheduleGet = async () => ({ rotate_every: 30 * 86400, prepublish: 86400, retire_after: 86400,
      algorithms: [{ alg: 'ES256', active_kid: 'ES256-a', active_since: NOW - 10 * 86400, next_kid: 'ES256-n', next_rotation_at: next }] });
    render(Keys, api);
    await ready();
    const ticks = $$('[data-testid=key-axis] span').map((s) => s.textContent!);
    expect(ticks.length).toBe(5);
    // A history of weeks: dates, not clock times, and in order.
    for (const t of ticks) expect(t).toMatch(/\d/);
    expect(new Set(ticks).size).toBe(5);
    const legend = $('ul.legend')!.textContent!;
    for (const words of ['active: signing', 'retiring: verifying only', 'next: published, not yet signing', 'revoked']) expect(legend).toContain(words);
    expect($('[data-testid=next-rotation]')!.textContent).toContain('next rotation');
    expect($('svg.tl line.nextrot title')!.textContent).toContain('next rotation');
    expect($('svg.tl line.now')).toBeTruthy();
    expect($('svg.tl')!.getAttribute('aria-label')).toBe('Timeline of the ES256 keys');
  });
});

describe('Try it on a client it cannot run', () => {
  it('offers a test copy with only a loopback redirect, and never touches the client itself', async () => {
    const web = client({ name: 'Shop', redirect_uris: ['https://shop.example/cb'] });
    const { api, calls } = fakeApi({ clients: [web] });
    const secrets = secretsStore();
    render(Clients, api, {}, fakeShell(), secrets);
    await ready();
    click($('[data-testid=try-client]'));
    expect($('[data-testid=try-run]')!.hasAttribute('disabled')).toBe(true);
    click($('[data-testid=try-clone]'));
    await ready();
    const clone = calls.find((c) => c.name === 'clientClone')!;
    expect(clone.args).toEqual([web.client_id, { name: 'Shop (test)', redirect_uris: ['http://127.0.0.1/callback'] }]);
    expect(calls.some((c) => c.name === 'clientUpdate')).toBe(false);
    expect(secrets.current?.title).toContain('Shop (test)');
  });
});

describe('the sidebar', () => {
  it('narrows and widens from a named button that says its state, and remembers the choice', async () => {
    const { api } = fakeApi({ clients: [] });
    const target = document.createElement('div');
    document.body.appendChild(target);
    mounted = mount(App, { target, props: { api } });
    await settle(10);
    flushSync();
    const fold = $('[data-testid=sidebar-toggle]')!;
    expect(fold.getAttribute('aria-label')).toBe('Narrow the sidebar');
    expect(fold.getAttribute('aria-expanded')).toBe('true');
    expect(fold.getAttribute('aria-controls')).toBe('side');
    expect($('#side')).toBeTruthy();
    click(fold);
    expect($('.shell')!.classList.contains('narrow')).toBe(true);
    expect(fold.getAttribute('aria-label')).toBe('Widen the sidebar');
    expect(fold.getAttribute('aria-expanded')).toBe('false');
    expect(localStorage.getItem('latchkey.sidebar')).toBe('narrow');
    // Narrow, every page keeps its full name for screen readers.
    expect($$('nav.side button[id^=nav-]').every((b) => (b.textContent ?? '').trim().length > 3)).toBe(true);
    unmount(mounted);
    document.body.innerHTML = '';
    const again = document.createElement('div');
    document.body.appendChild(again);
    mounted = mount(App, { target: again, props: { api } });
    await settle(10);
    flushSync();
    expect($('.shell')!.classList.contains('narrow')).toBe(true);
  });
});

describe('native checkboxes in the dark theme', () => {
  it('take the accent colour and the dark colour scheme', () => {
    const css = readFileSync(`${process.cwd()}/src/app.css`, 'utf8');
    expect(css).toMatch(/input\[type=checkbox\], input\[type=radio\] \{ accent-color: var\(--accent\); \}/);
    expect(css).toMatch(/:root\[data-theme='dark'\] input\[type=checkbox\][^{]*\{ color-scheme: dark; \}/);
  });
});

describe('a scope delete the server refuses', () => {
  it('shows the refusal inside the dialog that asked, which stays open, and nowhere else', async () => {
    const { api } = fakeApi({ clients: [client({ allowed_scopes: ['openid'] })] });
    (api as { scopesList: unknown }).scopesList = async () => [{ name: 'orders:read', description: '', claims: [], builtin: false }];
    // A client was given the scope after the dialog looked.
    (api as { scopeDelete: unknown }).scopeDelete = async () => { throw { code: 'conflict', message: 'the scope orders:read is allowed to client billing' }; };
    render(Scopes, api);
    await ready();
    click($('[data-testid=delete-scope]'));
    await ready();
    click($$('[role=dialog] button').find((b) => b.textContent === 'Delete scope'));
    await ready();
    const dialog = $('[role=dialog]')!;
    expect(dialog.textContent).toContain('the scope orders:read is allowed to client billing');
    expect(dialog.textContent).toContain('conflict');
    expect($$('[role=alert]').every((a) => dialog.contains(a))).toBe(true);
  });
});

describe('the Clients table fits', () => {
  it('shows the kind as a short chip with the full kind on hover, and the text before the row\'s buttons', async () => {
    const { api } = fakeApi({ clients: [
      client({ client_id: 'w', name: 'Web one', client_type: 'confidential', grant_types: ['authorization_code'], redirect_uris: ['https://a.example/cb'] }),
      client({ client_id: 'm', name: 'Batch', client_type: 'confidential', grant_types: ['client_credentials'], redirect_uris: [] }),
      client({ client_id: 's', name: 'Spa', client_type: 'public', grant_types: ['authorization_code'], redirect_uris: ['https://spa.example/cb'] }),
    ] });
    render(Clients, api);
    await ready();
    const chips = Object.fromEntries($$('[data-testid=client-row]').map((r) => [r.querySelector('[data-testid=client-name-link]')!.textContent, r.querySelector('.chip.kind')!]));
    expect(chips['Web one'].textContent).toBe('Web');
    expect(chips['Batch'].textContent).toBe('M2M');
    expect(chips['Batch'].getAttribute('title')!.length).toBeGreaterThan(6);
    for (const r of $$('[data-testid=client-row]')) {
      const cells = [...r.querySelectorAll('td')];
      const firstButtons = cells.findIndex((c) => c.classList.contains('actions'));
      expect(firstButtons).toBe(cells.length - 1);
    }
  });
});

describe('the shell with a long table', () => {
  it('keeps what a page positions inside the page, so the document never grows taller than the window', () => {
    // jsdom has no layout: the rule is checked here, its effect in the desktop e2e (§5,
    // on a store with 20 clients).
    const css = readFileSync(`${process.cwd()}/src/App.svelte`, 'utf8');
    expect(css).toMatch(/\.shell \{[^}]*overflow: hidden;[^}]*position: relative;/);
    expect(css).toMatch(/\n  main \{[^}]*overflow: auto;[^}]*position: relative;/);
    // A long username, email or action code breaks instead of widening a table.
    expect(readFileSync(`${process.cwd()}/src/app.css`, 'utf8')).toMatch(/table\.data td code, \.brk \{ overflow-wrap: anywhere; \}/);
  });
});
