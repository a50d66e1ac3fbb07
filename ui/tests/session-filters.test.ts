import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount, type Component } from 'svelte';
import { contextFor } from '../src/lib/context';
import type * as T from '../src/lib/types';
import { clientCandidates, resolve, userCandidates } from '../src/lib/pick';
import { fakeApi, fakeShell, client, session, settle, NOW } from './fake-api';
import Sessions from '../src/pages/Sessions.svelte';

let mounted: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
});

const user = (id: string, username: string, name: string | null = null, email: string | null = null): T.UserDto => ({
  id, username, name, email, email_verified: false, disabled: false, is_admin: false, password_changed_at: NOW, created_at: NOW,
});
const users = [user('u-alice', 'alice', 'Alice Liddell', 'alice@example.com'), user('u-anna', 'anna', 'Anna Karenina'), user('u-bob', 'robert', 'Bob Dylan', 'bob@example.com')];
const clients = [client({ client_id: 'billing', name: 'Billing' }), client({ client_id: 'blog', name: 'Blog' })];
const sessions = [
  session(1, { user_id: 'u-alice', username: 'alice', client_id: 'billing', client_name: 'Billing' }),
  session(2, { user_id: 'u-anna', username: 'anna', client_id: 'blog', client_name: 'Blog' }),
  session(3, { user_id: 'u-bob', username: 'robert', client_id: 'billing', client_name: 'Billing' }),
];

function render(api: ReturnType<typeof fakeApi>['api']) {
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted = mount(Sessions as Component<Record<string, unknown>>, { target, props: { pollMs: 600_000 }, context: contextFor(api, fakeShell()) });
  return target;
}
function type(el: Element | null, value: string) {
  if (!el) throw new Error('no field');
  (el as HTMLInputElement).value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  flushSync();
}
const rows = (t: HTMLElement) => [...t.querySelectorAll<HTMLElement>('[data-testid=session-row]')].map((r) => r.dataset.session);

describe('typeahead resolution', () => {
  const us = userCandidates(users);
  it('picks by exact username, email or id in any case, or by a part only one has', () => {
    expect(resolve('ALICE', us)).toMatchObject({ kind: 'one', pick: { id: 'u-alice' } });
    expect(resolve('bob@example.com', us)).toMatchObject({ kind: 'one', pick: { id: 'u-bob' } });
    expect(resolve('dylan', us)).toMatchObject({ kind: 'one', pick: { id: 'u-bob' } });
    expect(resolve('', us)).toEqual({ kind: 'all' });
  });
  it('offers the choice when several match and near misses when none does', () => {
    const many = resolve('a', us);
    expect(many.kind).toBe('many');
    expect(many.kind === 'many' && many.matches.map((c) => c.label)).toEqual(['alice', 'anna', 'robert']);
    const none = resolve('alcie', us);
    expect(none).toMatchObject({ kind: 'none', suggestions: [{ label: 'alice' }] });
    expect(resolve('zzzzzz', us)).toEqual({ kind: 'none', suggestions: [] });
  });
  it('picks a client by name or id; two clients with one name are told apart by id', () => {
    const cs = clientCandidates([...clients, client({ client_id: 'billing-2', name: 'Billing' })]);
    expect(resolve('blog', cs)).toMatchObject({ kind: 'one', pick: { id: 'blog' } });
    const twins = resolve('Billing', cs);
    expect(twins.kind === 'many' && twins.matches.map((c) => c.value)).toEqual(['billing', 'billing-2']);
    expect(resolve('billing-2', cs)).toMatchObject({ kind: 'one', pick: { id: 'billing-2' } });
  });
});

describe('the Sessions filters', () => {
  it('filter by a name that is not a username, through the user id the server needs', async () => {
    const { api, calls } = fakeApi({ users, clients, sessions });
    const t = render(api);
    await settle(300); flushSync();
    type(t.querySelector('[data-testid=filter-user]'), 'Dylan');
    await settle(400); flushSync();
    expect(calls.filter((c) => c.name === 'sessionsList').at(-1)!.args[0]).toMatchObject({ user: 'u-bob' });
    expect(rows(t)).toEqual(['s3']);
    expect(t.querySelector('[data-testid=filter-user-picked]')!.textContent).toContain('robert');
  });

  it('show an empty table with a suggestion when nobody matches, never the unfiltered list', async () => {
    const { api, calls } = fakeApi({ users, clients, sessions });
    const t = render(api);
    await settle(300); flushSync();
    expect(rows(t).length).toBe(3);
    const before = calls.filter((c) => c.name === 'sessionsList').length;
    type(t.querySelector('[data-testid=filter-user]'), 'alcie');
    await settle(400); flushSync();
    expect(rows(t)).toEqual([]);
    expect(t.querySelector('input[aria-label="Select all sessions"]')).toBeNull();
    expect(t.querySelector('[data-testid=filter-user-none]')!.textContent).toContain('No user matches “alcie”');
    expect(calls.filter((c) => c.name === 'sessionsList').length).toBe(before);
    expect(t.querySelector('[role=alert]')).toBeNull();
    // The suggestion is one click.
    [...t.querySelectorAll<HTMLButtonElement>('[data-testid=filter-user-none] button')].find((b) => b.textContent === 'alice')!.click();
    flushSync();
    await settle(400); flushSync();
    expect(rows(t)).toEqual(['s1']);
  });

  it('ask which one when several match, and list nothing until one is picked', async () => {
    const { api } = fakeApi({ users, clients, sessions });
    const t = render(api);
    await settle(300); flushSync();
    type(t.querySelector('[data-testid=filter-client]'), 'b');
    await settle(400); flushSync();
    expect(rows(t)).toEqual([]);
    const choice = t.querySelector('[data-testid=filter-client-many]')!;
    expect(choice.textContent).toContain('2 clients match “b”');
    [...choice.querySelectorAll<HTMLButtonElement>('button')].find((b) => b.textContent?.startsWith('Blog'))!.click();
    flushSync();
    await settle(400); flushSync();
    expect(rows(t)).toEqual(['s2']);
    expect((t.querySelector('[data-testid=filter-client]') as HTMLInputElement).value).toBe('blog');
  });
});

import { deviceOf } from '../src/lib/ua';
describe('the Device column', () => {
  it('names the browser family and the system, not the version', () => {
    expect(deviceOf('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0')).toBe('Firefox on Linux');
    expect(deviceOf('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15')).toBe('Safari on macOS');
    expect(deviceOf('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0')).toBe('Edge on Windows');
    expect(deviceOf('Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36')).toBe('Chrome on Android');
    expect(deviceOf('curl/8.5.0')).toBe('curl');
    expect(deviceOf(null)).toBe('unknown');
    expect(deviceOf('SomethingElse/1.0')).toBe('other');
  });

  it('is a sortable column of the Sessions table', async () => {
    const { api } = fakeApi({ users, clients, sessions: [session(1, { user_agent: 'curl/8.5.0' })] });
    const t = render(api);
    await settle(300); flushSync();
    const header = [...t.querySelectorAll('th')].find((h) => h.textContent?.includes('Device'))!;
    expect(header.querySelector('button')).not.toBeNull();
    expect(t.querySelector('[data-testid=session-row]')!.textContent).toContain('curl');
  });
});
