import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount, type Component } from 'svelte';
import { contextFor } from '../src/lib/context';
import { secretsStore } from '../src/lib/secrets.svelte';
import type * as T from '../src/lib/types';
import { fakeApi, fakeShell, settle, NOW } from './fake-api';
import RegistrationTokens from '../src/components/RegistrationTokens.svelte';

let mounted: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
});

async function render(api: ReturnType<typeof fakeApi>['api'], secrets = secretsStore()) {
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted = mount(RegistrationTokens as Component<Record<string, unknown>>, { target, props: {}, context: contextFor(api, fakeShell(), secrets) });
  await settle();
  flushSync();
  return target;
}

/** The input inside the label whose text starts with `label`. */
function field(t: HTMLElement, label: string): HTMLInputElement {
  const l = [...t.querySelectorAll('label')].find((x) => x.textContent?.trim().startsWith(label));
  return l!.querySelector('input')!;
}

function type(el: HTMLInputElement, value: string) {
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  flushSync();
}

const token = (over: Partial<T.RegistrationTokenDto>): T.RegistrationTokenDto => ({
  id: 'rt_1', grant_types: ['authorization_code'], scopes: ['openid'], redirect_uri_prefixes: ['https://app.example/'],
  uses_left: 2, registered: 3, created_at: NOW - 3600, created_by: 'local-admin', expires_at: NOW + 86400,
  revoked_at: null, ...over,
});

describe('RegistrationTokens', () => {
  it('creates a token with its policy and hands the token to the one-time dialog only', async () => {
    const { api, calls } = fakeApi();
    const secrets = secretsStore();
    const t = await render(api, secrets);
    expect(t.textContent).toContain('No initial access tokens yet');
    type(field(t, 'Scopes'), 'openid profile');
    type(field(t, 'Redirect URI prefixes'), 'https://app.example/');
    type(field(t, 'Lifetime'), '2');
    type(field(t, 'Uses'), '5');
    t.querySelector<HTMLFormElement>('form')!.requestSubmit();
    await settle();
    flushSync();
    const create = calls.find((c) => c.name === 'registrationTokenCreate');
    expect(create?.args[0]).toEqual({
      grant_types: ['authorization_code', 'refresh_token'], scopes: ['openid', 'profile'],
      redirect_uri_prefixes: ['https://app.example/'], expires_in: 7200, uses: 5,
    });
    expect(secrets.current?.fields.find((f) => f.secret)?.value).toBe('lkreg_c2VjcmV0');
    expect(t.textContent).not.toContain('lkreg_');
    expect(t.querySelectorAll('[data-testid=registration-token-row]').length).toBe(1);
  });

  it('says what revoking cuts off and revokes only after the confirmation', async () => {
    const { api, calls } = fakeApi({ registrationTokens: [token({})] });
    const t = await render(api);
    const revoke = t.querySelector<HTMLButtonElement>('button[aria-label="Revoke the initial access token rt_1"]')!;
    revoke.click();
    flushSync();
    expect(document.body.textContent).toContain('Nobody can register a client with it any more (2 uses were left)');
    expect(document.body.textContent).toContain('The 3 clients already registered with it keep working');
    expect(calls.some((c) => c.name === 'registrationTokenRevoke')).toBe(false);
    [...document.querySelectorAll('button')].find((b) => b.textContent === 'Revoke token')!.click();
    await settle();
    flushSync();
    expect(calls.find((c) => c.name === 'registrationTokenRevoke')?.args).toEqual(['rt_1']);
    expect(t.querySelector('[data-testid=registration-token-row]')?.textContent).toContain('revoked');
  });
});
