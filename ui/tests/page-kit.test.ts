// The pages on the shared kit: the one table sorts real pages, and every destructive
// action waits for the one confirmation.
import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount, type Component } from 'svelte';
import { contextFor } from '../src/lib/context';
import { fakeApi, fakeShell, client, session, settle } from './fake-api';
import Clients from '../src/pages/Clients.svelte';
import Sessions from '../src/pages/Sessions.svelte';
import Scopes from '../src/pages/Scopes.svelte';
import Settings from '../src/pages/Settings.svelte';

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
const button = (root: ParentNode, text: string) => [...root.querySelectorAll<HTMLButtonElement>('button')].find((b) => b.textContent?.trim() === text);
const sortButton = (root: ParentNode, header: string) => [...root.querySelectorAll<HTMLButtonElement>('th button')].find((b) => b.textContent?.includes(header))!;

describe('the pages on the one table', () => {
  it('sorts the sessions by any column from its header', async () => {
    const { api } = fakeApi({
      sessions: [session(1, { username: 'carol', ip: '10.0.0.9' }), session(2, { username: 'alice', ip: '10.0.0.10' }), session(3, { username: 'bob', ip: '10.0.0.1' })],
    });
    const t = render(Sessions, api, { pollMs: 600_000 });
    await settle(400);
    flushSync();
    const users = () => [...t.querySelectorAll('[data-testid=session-row]')].map((r) => r.querySelectorAll('td')[1].textContent?.trim());
    expect(users()).toEqual(['carol', 'alice', 'bob']);
    sortButton(t, 'User').click();
    flushSync();
    expect(users()).toEqual(['alice', 'bob', 'carol']);
    sortButton(t, 'IP').click();
    flushSync();
    expect(users()).toEqual(['bob', 'carol', 'alice']);
    expect(sortButton(t, 'IP').closest('th')!.getAttribute('aria-sort')).toBe('ascending');
    expect(sortButton(t, 'User').closest('th')!.getAttribute('aria-sort')).toBe('none');
  });

  it('sorts the clients by name, ignoring case', async () => {
    const { api } = fakeApi({ clients: [client({ name: 'shop' }), client({ name: 'Billing' }), client({ name: 'api' })] });
    const t = render(Clients, api);
    await settle();
    flushSync();
    sortButton(t, 'Name').click();
    flushSync();
    expect([...t.querySelectorAll('[data-testid=client-row]')].map((r) => r.querySelector('td')?.textContent?.trim())).toEqual(['api', 'Billing', 'shop']);
  });
});

describe('destructive actions wait for the one confirmation', () => {
  it('deletes a client only after the confirmation, then reloads the table', async () => {
    const doomed = client({ name: 'Old app' });
    const { api, calls } = fakeApi({ clients: [doomed, client({ name: 'Kept' })] });
    const t = render(Clients, api);
    await settle();
    flushSync();
    t.querySelector<HTMLButtonElement>('[aria-label="Delete Old app"]')!.click();
    flushSync();
    expect(calls.some((c) => c.name === 'clientDelete')).toBe(false);
    expect(t.querySelector('[role=dialog]')?.getAttribute('aria-label')).toBe('Delete Old app?');
    // The dry run comes first: the button waits for its numbers.
    await settle();
    flushSync();
    button(t, 'Delete client')!.click();
    await settle();
    flushSync();
    expect(calls.find((c) => c.name === 'clientDelete')?.args).toEqual([doomed.client_id]);
    expect(t.querySelector('[role=dialog]')).toBeNull();
    expect(t.querySelectorAll('[data-testid=client-row]').length).toBe(1);
  });

  it('keeps a scope when the confirmation is cancelled', async () => {
    const { api, calls } = fakeApi({ scopes: [{ name: 'orders:read', description: 'Read orders', claims: [], builtin: false, created_at: 0 }] });
    const t = render(Scopes, api);
    await settle();
    flushSync();
    t.querySelector<HTMLButtonElement>('[aria-label="Delete the scope orders:read"]')!.click();
    // The dialog first looks up the clients that use the scope.
    await settle();
    flushSync();
    button(t, 'Cancel')!.click();
    flushSync();
    expect(t.querySelector('[role=dialog]')).toBeNull();
    expect(calls.some((c) => c.name === 'scopeDelete')).toBe(false);
  });

  it('asks before revoking an API key', async () => {
    const { api, calls } = fakeApi();
    api.apiKeysList = () => Promise.resolve([{ id: 'k1', name: 'backup script', read_only: true, created_at: 0, created_by: 'local-admin', revoked_at: null, last_used_at: null, expires_at: null }]);
    const t = render(Settings, api);
    await settle();
    flushSync();
    t.querySelector<HTMLButtonElement>('[aria-label="Revoke the API key backup script"]')!.click();
    flushSync();
    expect(calls.some((c) => c.name === 'apiKeyRevoke')).toBe(false);
    expect(t.querySelector('[role=dialog]')?.textContent).toContain('is refused from now on');
    button(t, 'Revoke key')!.click();
    await settle();
    expect(calls.find((c) => c.name === 'apiKeyRevoke')?.args).toEqual(['k1']);
  });
});
