// Issue 13 in the inspector: an exchanged token shows its audience, its `act` chain
// (the current actor first, RFC 8693 §4.1) and the token it was exchanged from, from
// the lineage the admin introspection returns.
import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount, type Component } from 'svelte';
import { contextFor } from '../src/lib/context';
import { fakeApi, fakeShell, settle, NOW } from './fake-api';
import type * as T from '../src/lib/types';
import Tokens from '../src/pages/Tokens.svelte';
import { actChain, audienceOf } from '../src/lib/token';

let mounted: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
});

const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';

function inspection(claims: Record<string, T.JsonValue>, server: Partial<T.ServerAnswer> = {}): T.Inspection {
  return {
    kind: 'jwt', valid: true, outcome: 'active', verdict: 'Valid.', removed: [],
    server: { active: true, token_type: 'Bearer', ...server },
    header: { alg: 'ES256', kid: 'k1' }, claims: { iat: NOW - 60, exp: NOW + 240, ...claims },
    claim_lines: [], checks: [],
  };
}

async function inspect(i: T.Inspection) {
  const { api } = fakeApi({ inspection: i });
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted = mount(Tokens as Component<Record<string, unknown>>, { target, props: { initial: JWT }, context: contextFor(api, fakeShell()) });
  await settle();
  flushSync();
  return target;
}

describe('Token inspector: token exchange', () => {
  it('reads aud as a list and act outermost first, and stops on a hostile depth', () => {
    expect(audienceOf('a')).toEqual(['a']);
    expect(audienceOf(['a', 'b', 3])).toEqual(['a', 'b']);
    expect(audienceOf(undefined)).toEqual([]);
    expect(actChain({ sub: 'b', client_id: 'svc-b', act: { sub: 'a' } })).toEqual([
      { sub: 'b', client_id: 'svc-b' }, { sub: 'a', client_id: null },
    ]);
    let deep: T.JsonValue = { sub: 'x' };
    for (let i = 0; i < 100; i++) deep = { sub: `x${i}`, act: deep };
    expect(actChain(deep).length).toBe(16);
  });

  it('draws the act chain, every audience and the token it was exchanged from, with names', async () => {
    const t = await inspect(inspection(
      { sub: 'alice', aud: ['https://billing.example/api', 'billing'],
        act: { sub: 'client:orders', client_id: 'orders', act: { sub: 'client:web', client_id: 'web' } } },
      { exchanged_from: [
        { jti: 'child', parent_jti: 'parent-jti', policy_id: 'pol-1', requester_client_id: 'orders', subject_client_id: 'web', issued_token_type: 'access_token', issued_at: NOW - 60 },
        { jti: 'parent-jti', parent_jti: 'root-jti', policy_id: 'pol-0', requester_client_id: 'web', subject_client_id: 'web', issued_token_type: 'access_token', issued_at: NOW - 120 },
      ] },
    ));
    const section = t.querySelector('[data-testid=exchange-info]');
    expect(section?.getAttribute('aria-labelledby')).toBe('exchange-h');
    expect([...t.querySelectorAll('[data-testid=audience] li')].map((l) => l.textContent)).toEqual(['https://billing.example/api', 'billing']);
    const actors = [...t.querySelectorAll('[data-testid=actor]')];
    expect(actors.map((a) => a.getAttribute('data-sub'))).toEqual(['client:orders', 'client:web']);
    expect(actors[0].textContent).toContain('acting now');
    expect(actors[1].textContent).toContain('acted before');
    expect(t.querySelector('[data-testid=act-chain]')?.getAttribute('aria-labelledby')).toBe('act-h');
    const steps = [...t.querySelectorAll('[data-testid=lineage-step]')];
    expect(steps.map((s) => s.getAttribute('data-parent'))).toEqual(['parent-jti', 'root-jti']);
    expect(steps[0].textContent).toContain('pol-1');
    // The parent's id is one keyboard-reachable, named button away.
    const copy = steps[0].querySelector('button');
    expect(copy?.getAttribute('aria-label')).toContain('came from');
  });

  it('says impersonation when an exchanged token has no actor, and shows nothing for a plain token', async () => {
    let t = await inspect(inspection(
      { sub: 'alice', aud: 'https://billing.example/api' },
      { exchanged_from: [{ jti: 'c', parent_jti: 'p', policy_id: 'pol', requester_client_id: 'orders', subject_client_id: 'web', issued_token_type: 'access_token', issued_at: NOW }] },
    ));
    expect(t.querySelector('[data-testid=impersonation]')).not.toBeNull();
    expect(t.querySelector('[data-testid=act-chain]')).toBeNull();
    unmount(mounted!); mounted = null; document.body.innerHTML = '';
    t = await inspect(inspection({ sub: 'alice', aud: 'https://issuer.example' }));
    expect(t.querySelector('[data-testid=exchange-info]')).toBeNull();
  });
});
