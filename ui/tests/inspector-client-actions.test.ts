// Issue 12, defects 1 and 3 in the UI: the inspector's one verdict (never green while
// the server says inactive, never red for an ID token, decoded as pasted), and the
// client Disable / Delete / Clone dialogs (dry run first, Undo, built-ins protected).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushSync, mount, unmount, type Component } from 'svelte';
import { contextFor } from '../src/lib/context';
import { fakeApi, fakeShell, client, settle, NOW } from './fake-api';
import type * as T from '../src/lib/types';
import Clients from '../src/pages/Clients.svelte';
import Tokens from '../src/pages/Tokens.svelte';
import { normaliseToken } from '../src/lib/token';

let mounted: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
  vi.useRealTimers();
});

function render<P extends Record<string, unknown>>(C: Component<P>, api: ReturnType<typeof fakeApi>['api'], props?: P) {
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted = mount(C as Component<Record<string, unknown>>, { target, props: props ?? {}, context: contextFor(api, fakeShell()) });
  return target;
}

function click(el: Element | undefined | null) {
  if (!el) throw new Error('nothing to click');
  (el as HTMLElement).click();
  flushSync();
}

const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';

function inspection(over: Partial<T.Inspection>): T.Inspection {
  return {
    kind: 'jwt', valid: true, outcome: 'active', verdict: 'Valid: signature, issuer and lifetime check out, and the server answers active.',
    removed: [], server: { active: true, token_type: 'Bearer' },
    header: { alg: 'ES256', kid: 'k1' }, claims: { iat: NOW - 60, exp: NOW + 240, sub: 'alice' },
    claim_lines: [{ claim: 'sub', value: 'alice', meaning: 'Subject' }],
    checks: [{ name: 'signature', ok: true, detail: 'verified with key k1' }],
    ...over,
  };
}

describe('Token inspector', () => {
  it('strips a pasted Authorization header, Bearer, quotes and line breaks before tinting the parts', () => {
    expect(normaliseToken(`Authorization: Bearer ${JWT}`)).toBe(JWT);
    expect(normaliseToken(`  bearer  "${JWT.slice(0, 10)}\n${JWT.slice(10)}"  `)).toBe(JWT);
    expect(normaliseToken(`'${JWT}',`)).toBe(JWT);
    expect(normaliseToken('Bearer')).toBe('');
  });

  it('decodes a pasted header line as it is pasted, without pressing Inspect, and says what it removed', async () => {
    vi.useFakeTimers();
    const { api, calls } = fakeApi({ inspection: inspection({ removed: ['the header name "Authorization:"', 'the "Bearer" scheme'] }) });
    const t = render(Tokens, api);
    const box = t.querySelector<HTMLTextAreaElement>('[data-testid=token-input]')!;
    box.value = `Authorization: Bearer ${JWT}`;
    box.dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
    expect(t.querySelector('[aria-label="The token\'s parts"]')?.textContent?.replace(/\s/g, '')).toBe(JWT);
    await vi.advanceTimersByTimeAsync(300);
    flushSync();
    // The text as pasted goes to the core, which strips it and says what it removed.
    expect(calls.filter((c) => c.name === 'tokenInspect').map((c) => c.args[0])).toEqual([`Authorization: Bearer ${JWT}`]);
    expect(t.querySelector('[data-testid=removed]')?.textContent).toContain('Authorization:');
    expect(t.querySelector('[data-testid=verdict]')?.getAttribute('data-outcome')).toBe('active');
    // Changed text: the old verdict is not shown beside it.
    box.value = `${JWT}x`;
    box.dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
    expect(t.querySelector('[data-testid=verdict]')).toBeNull();
  });

  it('shows a revoked token as rejected with the reason, when and by whom — never as valid', async () => {
    const { api } = fakeApi({
      inspection: inspection({
        valid: false, outcome: 'rejected', verdict: 'Rejected: this token was revoked (2026-12-07 15:00:00 UTC, by local-admin).',
        server: { active: false, inactive_reason: { code: 'revoked', detail: 'this token was revoked', at: NOW - 30, by: 'local-admin' } },
      }),
    });
    const t = render(Tokens, api, { initial: JWT });
    await settle();
    flushSync();
    const verdict = t.querySelector('[data-testid=verdict]')!;
    expect(verdict.getAttribute('data-valid')).toBe('false');
    expect(verdict.classList.contains('bad')).toBe(true);
    expect(verdict.textContent).toContain('Would be rejected');
    expect(verdict.textContent).not.toMatch(/^\s*Valid/);
    const why = t.querySelector('[data-testid=verdict-reason]')!;
    expect(why.getAttribute('data-code')).toBe('revoked');
    expect(why.textContent).toContain('local-admin');
    expect(t.querySelector('[data-testid=revoke-token]')).toBeNull();
  });

  it('calls an ID token not introspectable, in a neutral colour, never red or inactive', async () => {
    const { api } = fakeApi({
      inspection: inspection({
        outcome: 'not_introspectable', valid: true,
        verdict: 'ID token: signature, issuer and lifetime check out. ID tokens are not introspectable, so the server has nothing to add.',
        server: { active: false, inactive_reason: { code: 'not_introspectable', detail: 'not an access token' } },
      }),
    });
    const t = render(Tokens, api, { initial: JWT });
    await settle();
    flushSync();
    const verdict = t.querySelector('[data-testid=verdict]')!;
    expect(verdict.classList.contains('neutral')).toBe(true);
    expect(verdict.classList.contains('bad')).toBe(false);
    expect(verdict.textContent).toContain('not introspectable');
    expect(verdict.textContent).not.toContain('inactive');
  });
});

describe('Client actions', () => {
  it('shows what disabling cuts off before disabling, then offers Undo which re-enables', async () => {
    const c = client({ client_id: 'c-shop', name: 'Shop' });
    const { api, calls } = fakeApi({ clients: [c], impact: { sessions: 12, refresh_families: 9, live_access_tokens: 31, tokens_last_hour: 240 } });
    const t = render(Clients, api);
    await settle();
    flushSync();
    click(t.querySelector('[data-testid=disable-client]'));
    expect(calls.some((x) => x.name === 'clientSetDisabled')).toBe(false);
    await settle();
    flushSync();
    const impact = document.querySelector('[data-testid=client-impact]')!;
    expect(impact.textContent).toMatch(/12\s+live sessions/);
    expect(impact.textContent).toMatch(/9\s+refresh token families/);
    expect(impact.textContent).toMatch(/31\s+live access tokens/);
    expect(document.querySelector('[data-testid=client-activity]')!.textContent).toMatch(/240\s+tokens issued in the last hour/);
    click(document.querySelector('[data-testid=confirm-disable]'));
    await settle();
    flushSync();
    expect(calls.find((x) => x.name === 'clientSetDisabled')!.args).toEqual(['c-shop', true]);
    click(t.querySelector('[data-testid=undo-disable]'));
    await settle();
    flushSync();
    expect(calls.filter((x) => x.name === 'clientSetDisabled').at(-1)!.args).toEqual(['c-shop', false]);
    expect(t.querySelector('[data-testid=undo-bar]')).toBeNull();
  });

  it('keeps Delete disabled until the numbers are in, and deletes only on confirm', async () => {
    const c = client({ client_id: 'c-shop', name: 'Shop' });
    const { api, calls } = fakeApi({ clients: [c] });
    const t = render(Clients, api);
    await settle();
    flushSync();
    click(t.querySelector('[data-testid=delete-client]'));
    expect(document.querySelector<HTMLButtonElement>('[data-testid=confirm-delete]')!.disabled).toBe(true);
    await settle();
    flushSync();
    expect(document.querySelector<HTMLButtonElement>('[data-testid=confirm-delete]')!.disabled).toBe(false);
    expect(calls.some((x) => x.name === 'clientDelete')).toBe(false);
    click(document.querySelector('[data-testid=confirm-delete]'));
    await settle();
    expect(calls.find((x) => x.name === 'clientDelete')!.args).toEqual(['c-shop']);
  });

  it('asks before cloning, with the new name, and creates nothing on cancel', async () => {
    const c = client({ client_id: 'c-shop', name: 'Shop' });
    const { api, calls } = fakeApi({ clients: [c] });
    const t = render(Clients, api);
    await settle();
    flushSync();
    click(t.querySelector('[data-testid=clone-client]'));
    const name = document.querySelector<HTMLInputElement>('[data-testid=clone-name]')!;
    expect(name.value).toBe('Shop (copy)');
    click([...document.querySelectorAll('button')].find((b) => b.textContent === 'Cancel'));
    expect(calls.some((x) => x.name === 'clientClone')).toBe(false);
    click(t.querySelector('[data-testid=clone-client]'));
    const again = document.querySelector<HTMLInputElement>('[data-testid=clone-name]')!;
    again.value = 'Shop staging';
    again.dispatchEvent(new Event('input'));
    flushSync();
    click(document.querySelector('[data-testid=confirm-clone]'));
    await settle();
    expect(calls.find((x) => x.name === 'clientClone')!.args).toEqual(['c-shop', { name: 'Shop staging' }]);
  });

  it('marks the built-in console client and offers neither Disable nor Delete for it', async () => {
    const console_ = client({ client_id: 'latchkey-console', name: 'Latchkey console', builtin: true });
    const { api } = fakeApi({ clients: [console_, client({ name: 'Other' })] });
    const t = render(Clients, api);
    await settle();
    flushSync();
    const row = [...t.querySelectorAll('[data-testid=client-row]')].find((r) => r.textContent?.includes('latchkey-console'))!;
    expect(row.querySelector('[data-testid=builtin]')).toBeTruthy();
    expect(row.querySelector('[data-testid=disable-client]')).toBeNull();
    expect(row.querySelector('[data-testid=delete-client]')).toBeNull();
  });
});
