import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount, type Component } from 'svelte';
import { contextFor } from '../src/lib/context';
import type * as T from '../src/lib/types';
import { openBySeverity, ruleWords } from '../src/lib/security';
import { secretsStore } from '../src/lib/secrets.svelte';
import { fakeApi, fakeShell, client, settle, NOW } from './fake-api';
import Security from '../src/pages/Security.svelte';
import Dashboard from '../src/pages/Dashboard.svelte';

let mounted: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
});

function render(page: unknown, api: ReturnType<typeof fakeApi>['api'], props: Record<string, unknown> = {}, shell = fakeShell(), secrets = secretsStore()) {
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted = mount(page as Component<Record<string, unknown>>, { target, props: { pollMs: 600_000, ...props }, context: contextFor(api, shell, secrets) });
  return target;
}

const $ = (sel: string) => document.querySelector<HTMLElement>(sel);
const $$ = (sel: string) => [...document.querySelectorAll<HTMLElement>(sel)];
function click(el: Element | null | undefined) {
  if (!el) throw new Error('nothing to click');
  (el as HTMLElement).click();
  flushSync();
}
function choose(el: HTMLElement | null, value: string) {
  if (!el) throw new Error('no field');
  (el as HTMLSelectElement).value = value;
  el.dispatchEvent(new Event('change', { bubbles: true }));
  flushSync();
}

function finding(over: Partial<T.FindingDto> = {}): T.FindingDto {
  return {
    id: 'f1', rule: 'spray', severity: 'high', subject_kind: 'address', subject: '203.0.113.7/32',
    evidence: { usernames: 10 }, action: 'none (monitor mode)', status: 'open', acknowledged_by: null, acknowledged_at: null,
    first_seen: NOW - 300, last_seen: NOW - 10, count: 10, raised_at: NOW - 10, ...over,
  };
}

describe('the Security page', () => {
  it('lists open findings most severe first, in words, and hides acknowledged ones until asked', async () => {
    const { api } = fakeApi({ findings: [
      finding({ id: 'a', severity: 'medium', rule: 'brute_force', subject_kind: 'user', subject: 'alice' }),
      finding({ id: 'b', severity: 'critical', rule: 'spray_success' }),
      finding({ id: 'c', status: 'acknowledged', acknowledged_by: 'local-admin', acknowledged_at: NOW }),
    ] });
    render(Security, api);
    await settle(); flushSync();
    const rows = $$('[data-testid=finding-row]');
    expect(rows.map((r) => r.dataset.rule)).toEqual(['spray_success', 'brute_force']);
    expect(rows[0].textContent).toContain(ruleWords('spray_success'));
    click($('[data-testid=finding-open-only]'));
    expect($$('[data-testid=finding-row]').length).toBe(3);
  });

  it('asks the server for one severity when filtered, and acknowledging is one click that the server records', async () => {
    const { api, calls } = fakeApi({ findings: [finding({ id: 'x' }), finding({ id: 'y', severity: 'low', subject: '198.51.100.1/32' })] });
    render(Security, api);
    await settle(); flushSync();
    choose($('[data-testid=finding-severity]'), 'low');
    await settle(); flushSync();
    expect(calls.filter((c) => c.name === 'findingsList').at(-1)!.args[0]).toMatchObject({ severity: 'low' });
    expect($$('[data-testid=finding-row]').map((r) => r.dataset.subject)).toEqual(['198.51.100.1/32']);
    click($('[data-testid=finding-ack]'));
    await settle(); flushSync();
    expect(calls.some((c) => c.name === 'findingAck' && c.args[0] === 'y')).toBe(true);
    expect($$('[data-testid=finding-row]').length).toBe(0);
    expect(document.body.textContent).toContain('No open findings');
  });

  it('opens the drill-down of a finding and blocks its address from there only after confirming', async () => {
    const { api, calls } = fakeApi({
      findings: [finding()],
      profile: { failures: 12, successes: 1, distinct_users: 10, distinct_addresses: 1, first_seen: NOW - 300, last_seen: NOW - 10,
        timeline: [{ at: NOW - 10, kind: 'failure', what: 'wrong username or password', user: 'zoe', address: '203.0.113.7', client: null }] },
    });
    render(Security, api);
    await settle(); flushSync();
    click($('[data-testid=finding-subject]'));
    await settle(); flushSync();
    expect(calls.find((c) => c.name === 'securityProfileGet')!.args[0]).toEqual({ kind: 'address', subject: '203.0.113.7/32' });
    expect($('[data-testid=profile-failures]')!.textContent).toBe('12');
    expect($('[data-testid=profile-timeline]')!.textContent).toContain('zoe');
    click($('[data-testid=respond-block]'));
    expect(calls.some((c) => c.name === 'blockAdd')).toBe(false);
    expect(document.querySelector('[role=dialog]')!.textContent).toContain('refused at sign-in');
    choose($('[data-testid=block-for]'), '86400');
    click($('[data-testid=confirm-block]'));
    await settle(); flushSync();
    await settle(); flushSync();
    expect(calls.find((c) => c.name === 'blockAdd')!.args[0]).toMatchObject({ address: '203.0.113.7/32', expires_in: 86400 });
    expect($$('[data-testid=block-row]').map((r) => r.dataset.address)).toEqual(['203.0.113.7/32']);
    expect($('[data-testid=respond-unblock]')).not.toBeNull();
    expect($('[data-testid=security-notice]')!.textContent).toContain('is blocked');
  });

  it('unblocks from the list of blocks after saying what it re-allows', async () => {
    const { api, calls } = fakeApi({ blocks: [{ address: '192.0.2.0/24', principal: null, reason: 'manual', created_by: 'local-admin', created_at: NOW, expires_at: null }] });
    render(Security, api);
    await settle(); flushSync();
    expect($('[data-testid=block-row]')!.textContent).toContain('until removed');
    click($('[data-testid=unblock]'));
    expect(document.querySelector('[role=dialog]')!.textContent).toContain('accepted again');
    click($('[data-testid=confirm-unblock]'));
    await settle(); flushSync();
    await settle(); flushSync();
    expect(calls.find((c) => c.name === 'blockRemove')!.args[0]).toEqual({ address: '192.0.2.0/24' });
    expect($$('[data-testid=block-row]').length).toBe(0);
  });

  it("revokes a user's sessions with the dry run's numbers shown before anything is cut", async () => {
    const sessions = [0, 1, 2].map((i) => ({
      id: `s${i}`, user_id: 'u-alice', username: 'alice', client_id: 'c1', client_name: 'App', scopes: ['openid'], auth_time: NOW,
      created_at: NOW, last_used_at: NOW, expires_at: NOW + 3600, ip: '10.0.0.1', user_agent: null, revoked_at: null, revoked_reason: null,
      live_access_tokens: 2, live_refresh_tokens: 1, unfamiliar: false,
    }));
    const { api, calls } = fakeApi({ sessions, findings: [finding({ rule: 'brute_force', subject_kind: 'user', subject: 'alice' })] });
    render(Security, api, { initial: 'user:alice' });
    await settle(); flushSync();
    click($('[data-testid=respond-revoke-user]'));
    await settle(); flushSync();
    const dry = calls.find((c) => c.name === 'sessionsRevoke')!;
    expect(dry.args[0]).toEqual({ user: 'alice', dry_run: true });
    expect(document.querySelector('[role=dialog]')!.textContent).toMatch(/3\s+live sessions/);
    click($('[data-testid=confirm-revoke-user]'));
    await settle(); flushSync();
    expect(calls.filter((c) => c.name === 'sessionsRevoke').at(-1)!.args[0]).toEqual({ user: 'alice' });
  });

  it("rotates a guessed client's secret and shows the new one once, with its client id", async () => {
    const c = client({ client_id: 'billing', name: 'Billing' });
    const { api } = fakeApi({ clients: [c], findings: [finding({ rule: 'client_guess', subject_kind: 'client', subject: 'billing' })] });
    (api as { clientRotateSecret: unknown }).clientRotateSecret = async () => ({ client_secret: 'new-secret', previous_secrets_expire_at: NOW + 3600 });
    (api as { clientGet: unknown }).clientGet = async () => c;
    const secrets = secretsStore();
    render(Security, api, { initial: 'client:billing' }, fakeShell(), secrets);
    await settle(); flushSync();
    click($('[data-testid=respond-rotate]'));
    await settle(); flushSync();
    expect(secrets.current).toBeNull();
    click($('[data-testid=confirm-rotate]'));
    await settle(); flushSync();
    expect($('[data-testid=security-notice]')!.textContent).toContain('rotated');
    const shown = Object.fromEntries(secrets.current!.fields.map((f) => [f.key, f.value]));
    expect(shown).toMatchObject({ client_id: 'billing', client_secret: 'new-secret' });
  });
});

describe('open findings on the Dashboard', () => {
  it('counts open findings by severity and drills down to that severity', async () => {
    const shell = fakeShell();
    const went: [string, string | undefined][] = [];
    shell.go = (p, arg) => { went.push([p, arg]); };
    const { api } = fakeApi({ findings: [finding({ id: '1' }), finding({ id: '2' }), finding({ id: '3', severity: 'critical' }), finding({ id: '4', status: 'acknowledged' })] });
    render(Dashboard, api, {}, shell);
    await settle(); flushSync();
    expect($('[data-testid=dash-findings-critical]')!.textContent).toMatch(/1\s+critical/);
    expect($('[data-testid=dash-findings-high]')!.textContent).toMatch(/2\s+high/);
    click($('[data-testid=dash-findings-high]'));
    expect(went).toEqual([['security', 'severity:high']]);
  });

  it('marks a minting spike the detection found on the tokens-per-minute chart', async () => {
    const { api } = fakeApi({ findings: [finding({ rule: 'mint_spike', subject_kind: 'client', subject: 'billing', raised_at: NOW - 120 })] });
    render(Dashboard, api);
    await settle(); flushSync();
    expect($$('[data-testid=chart-spike]').length).toBe(1);
  });

  it('orders severities from critical down and leaves out those with none open', () => {
    expect(openBySeverity([finding({ severity: 'low' }), finding({ severity: 'critical' }), finding({ severity: 'low', status: 'acknowledged' })]))
      .toEqual([{ severity: 'critical', count: 1 }, { severity: 'low', count: 1 }]);
  });
});

import { readFileSync } from 'node:fs';
import { RULE_WORDS } from '../src/lib/security';
describe('the console knows every detection', () => {
  it('has words for exactly the rule ids the server raises (crates/latchkey-core/src/monitor.rs)', () => {
    // Vitest runs in ui/.
    const src = readFileSync(`${process.cwd()}/../crates/latchkey-core/src/monitor.rs`, 'utf8');
    const rules = src.slice(src.indexOf('pub const RULES'), src.indexOf('];', src.indexOf('pub const RULES')));
    const consts = new Map([...src.matchAll(/^pub const ([A-Z_]+): &str = "([a-z_]+)";/gm)].map((m) => [m[1], m[2]]));
    const ids = [...rules.matchAll(/^\s+([A-Z_]+),$/gm)].map((m) => consts.get(m[1]));
    expect(ids.length).toBeGreaterThanOrEqual(12);
    expect(Object.keys(RULE_WORDS).sort()).toEqual([...ids].sort());
  });
});

describe('security events on the Dashboard', () => {
  it('link to the drill-down of their account and address', async () => {
    const shell = fakeShell();
    const went: [string, string | undefined][] = [];
    shell.go = (p, arg) => { went.push([p, arg]); };
    const { api } = fakeApi({ audit: [{ id: 1, at: NOW, actor: 'anonymous', action: 'security.login_failed', target: 'bob', before: null, after: null, ip: '203.0.113.7', security: true }] });
    render(Dashboard, api, {}, shell);
    await settle(); flushSync();
    const ev = $('[data-testid=dash-event]')!;
    click([...ev.querySelectorAll('button')].find((b) => b.textContent === 'bob'));
    click([...ev.querySelectorAll('button')].find((b) => b.textContent === '203.0.113.7'));
    expect(went).toEqual([['security', 'user:bob'], ['security', 'address:203.0.113.7']]);
  });
});

import Scopes from '../src/pages/Scopes.svelte';
describe('deleting a scope', () => {
  const scope = (name: string): T.ScopeDto => ({ name, description: '', claims: [], builtin: false } as unknown as T.ScopeDto);
  it('names the clients that use it instead of offering a delete the server would refuse', async () => {
    const { api, calls } = fakeApi({ clients: [client({ client_id: 'billing', name: 'Billing', allowed_scopes: ['openid', 'orders:read'] })] });
    (api as { scopesList: unknown }).scopesList = async () => [scope('orders:read'), scope('unused')];
    render(Scopes, api);
    await settle(); flushSync();
    click($$('[data-testid=delete-scope]')[0]);
    await settle(); flushSync();
    expect($('[data-testid=scope-users]')!.textContent).toContain('Billing');
    expect(document.querySelector('[role=dialog]')!.textContent).toContain('remove it from that client first');
    expect(calls.some((c) => c.name === 'scopeDelete')).toBe(false);
    expect([...document.querySelectorAll('[role=dialog] button')].some((b) => b.textContent === 'Delete scope')).toBe(false);
  });

  it('asks once and deletes a scope no client uses', async () => {
    const { api, calls } = fakeApi({ clients: [client({ allowed_scopes: ['openid'] })] });
    (api as { scopesList: unknown }).scopesList = async () => [scope('unused')];
    (api as { scopeDelete: unknown }).scopeDelete = async (n: string) => { calls.push({ name: 'scopeDelete', args: [n] }); };
    render(Scopes, api);
    await settle(); flushSync();
    click($('[data-testid=delete-scope]'));
    await settle(); flushSync();
    click([...document.querySelectorAll<HTMLButtonElement>('[role=dialog] button')].find((b) => b.textContent === 'Delete scope'));
    await settle(); flushSync();
    expect(calls.find((c) => c.name === 'scopeDelete')!.args).toEqual(['unused']);
  });
});
