import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount, type Component } from 'svelte';
import { contextFor } from '../src/lib/context';
import type * as T from '../src/lib/types';
import { fakeApi, fakeShell, client, settle, NOW } from './fake-api';
import Exchange from '../src/pages/Exchange.svelte';

let mounted: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
});

function render(api: ReturnType<typeof fakeApi>['api'], shell = fakeShell()) {
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted = mount(Exchange as Component<Record<string, unknown>>, { target, props: {}, context: contextFor(api, shell) });
  return target;
}

const $ = (root: ParentNode, sel: string) => root.querySelector<HTMLElement>(sel);

function type(el: HTMLElement | null, value: string) {
  if (!el) throw new Error('no field');
  (el as HTMLInputElement).value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  el.dispatchEvent(new Event('change', { bubbles: true }));
  flushSync();
}

function click(el: Element | null | undefined) {
  if (!el) throw new Error('nothing to click');
  (el as HTMLElement).click();
  flushSync();
}

const gateway = client({ client_id: 'gateway', name: 'API gateway' });
const orders = client({ client_id: 'orders', name: 'Orders service' });
const spa = client({ client_id: 'spa', name: 'Web app', client_type: 'public', auth_method: 'none' });

function policy(over: Partial<T.ExchangePolicyDto> = {}): T.ExchangePolicyDto {
  return {
    id: 'xp_a', enabled: true, note: '', requester_client_id: 'gateway', subject_client_ids: [],
    subject_token_types: ['access_token'], requester_must_be_in_subject_aud: true, targets: ['orders-api'], scopes: [],
    mode: 'impersonation', actor_client_ids: [], max_ttl_secs: 300, issued_token_types: ['access_token'], max_act_depth: 3,
    created_at: NOW, updated_at: NOW, ...over,
  };
}

describe('the Exchange page', () => {
  it('says that nothing is allowed when there is no policy', async () => {
    const { api } = fakeApi({ clients: [gateway] });
    const t = render(api);
    await settle();
    flushSync();
    expect(t.textContent).toContain('No exchange is allowed');
    expect($(t, '[data-testid=exchange-matrix]')).toBeNull();
  });

  it('draws the requester × target matrix by client name, and a disabled policy allows nothing', async () => {
    const { api } = fakeApi({
      clients: [gateway, orders],
      policies: [policy(), policy({ id: 'xp_b', requester_client_id: 'orders', targets: ['billing-api'], mode: 'delegation' }),
        policy({ id: 'xp_c', requester_client_id: 'orders', targets: ['orders-api'], enabled: false })],
    });
    const t = render(api);
    await settle();
    flushSync();
    const m = $(t, '[data-testid=exchange-matrix]')!;
    const rows = [...m.querySelectorAll('tbody tr')].map((r) => [...r.children].map((c) => c.textContent?.trim()));
    expect(rows).toEqual([
      ['API gateway', '—', '✓ impersonation'],
      ['Orders service', '✓ delegation', 'disabled'],
    ]);
  });

  it('creates a policy from the editor, offering only confidential clients as requesters', async () => {
    const { api, calls } = fakeApi({ clients: [gateway, spa] });
    const t = render(api);
    await settle();
    flushSync();
    click($(t, '[data-testid=policy-new]'));
    const editor = $(document.body, '[data-testid=policy-editor]')!;
    const options = [...editor.querySelectorAll('[data-testid=policy-requester] option')].map((o) => o.textContent);
    expect(options).toEqual(['Choose a client', 'API gateway (gateway)']);
    // Nothing can be saved while the draft is one the server would refuse.
    expect(($(editor, '[data-testid=policy-save]') as HTMLButtonElement).disabled).toBe(true);
    type($(editor, '[data-testid=policy-requester]'), 'gateway');
    type($(editor, '[data-testid=policy-targets]'), 'orders-api\nhttps://billing.example/');
    type($(editor, '[data-testid=policy-scopes]'), 'orders:read');
    expect($(editor, '[data-testid=policy-problems]')).toBeNull();
    click($(editor, '[data-testid=policy-save]'));
    await settle();
    flushSync();
    const create = calls.find((c) => c.name === 'exchangePolicyCreate')!;
    expect(create.args[0]).toMatchObject({ requester_client_id: 'gateway', targets: ['orders-api', 'https://billing.example/'], scopes: ['orders:read'], mode: 'impersonation' });
    expect($(document.body, '[data-testid=policy-editor]')).toBeNull();
    expect(t.querySelectorAll('[data-testid=policy-row]').length).toBe(1);
  });

  it('shows the server’s refusal inside the editor and keeps what was typed', async () => {
    const { api } = fakeApi({ clients: [gateway] });
    const t = render(api);
    await settle();
    flushSync();
    click($(t, '[data-testid=policy-new]'));
    const editor = $(document.body, '[data-testid=policy-editor]')!;
    type($(editor, '[data-testid=policy-requester]'), 'gateway');
    type($(editor, '[data-testid=policy-targets]'), 'orders-api');
    type($(editor, '[data-testid=policy-scopes]'), 'latchkey:admin');
    click($(editor, '[data-testid=policy-save]'));
    await settle();
    flushSync();
    const still = $(document.body, '[data-testid=policy-editor]')!;
    expect(still.textContent).toContain('the admin scopes can never be passed on by an exchange');
    expect(($(still, '[data-testid=policy-targets]') as HTMLTextAreaElement).value).toBe('orders-api');
  });

  it('explains a refusal with the rule that refused, from a token pasted with its header', async () => {
    const explain: T.ExchangeExplainDto = {
      allowed: false, policy_id: null, error: 'invalid_target', error_description: 'the requested audience is not available to this client',
      rule: 'policy.target', detail: 'no enabled policy of this requester names billing-api', subject: null, actor: null,
      policies: [{ policy_id: 'xp_a', matched: false, rule: 'policy.target', reason: 'billing-api is not among its targets' }],
      issued_token_type: null, token_type: null, expires_in: null, audience: null, scopes: [], claims: null,
    };
    const { api, calls } = fakeApi({ clients: [gateway], policies: [policy()], explain });
    const t = render(api);
    await settle();
    flushSync();
    type($(t, '[data-testid=explain-requester]'), 'gateway');
    type($(t, '[data-testid=explain-target]'), 'billing-api');
    type($(t, '[data-testid=explain-subject]'), 'Authorization: Bearer eyJh.eyJp.c2ln');
    expect($(t, '[data-testid=explain-normalised]')?.textContent).toContain('left out');
    click($(t, '[data-testid=explain-run]'));
    await settle();
    flushSync();
    const req = calls.find((c) => c.name === 'exchangePolicyExplain')!.args[0] as T.ExchangeExplainRequest;
    expect(req).toMatchObject({ requester_client_id: 'gateway', subject_token: 'eyJh.eyJp.c2ln', audience: 'billing-api' });
    expect(req.resource).toBeUndefined();
    const v = $(t, '[data-testid=explain-verdict]')!;
    expect(v.textContent).toContain('invalid_target');
    expect($(t, '[data-testid=explain-rule]')?.textContent).toContain('no enabled policy of this requester names billing-api');
    // A refused exchange cannot be run.
    expect($(t, '[data-testid=exchange-run]')).toBeNull();
  });

  it('runs an allowed exchange as the requester, drops the secret typed, and opens the result in the inspector', async () => {
    const explain: T.ExchangeExplainDto = {
      allowed: true, policy_id: 'xp_a', error: null, error_description: null, rule: null, detail: null, subject: null, actor: null,
      policies: [{ policy_id: 'xp_a', matched: true, rule: null, reason: null }],
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: 300,
      audience: 'orders-api', scopes: ['orders:read'], claims: { aud: 'orders-api' },
    };
    const tryResult: T.ClientTryResult = {
      grant: 'token_exchange', access_token: 'exchanged.jwt.token', id_token: null, expires_in: 300, scope: 'orders:read',
      refresh_token_issued: false, redirect_uri: null, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer',
    };
    const shell = fakeShell();
    const { api, calls } = fakeApi({ clients: [gateway], policies: [policy()], explain, tryResult });
    const t = render(api, shell);
    await settle();
    flushSync();
    type($(t, '[data-testid=explain-requester]'), 'gateway');
    type($(t, '[data-testid=explain-target]'), 'orders-api');
    type($(t, '[data-testid=explain-subject]'), 'eyJh.eyJp.c2ln');
    click($(t, '[data-testid=explain-run]'));
    await settle();
    flushSync();
    expect($(t, '[data-testid=explain-verdict]')?.textContent).toContain('Allowed by policy xp_a');
    const secret = $(t, '[data-testid=exchange-run-secret]') as HTMLInputElement;
    type(secret, 's3cret');
    click($(t, '[data-testid=exchange-run]'));
    await settle();
    flushSync();
    const run = calls.find((c) => c.name === 'clientTry')!.args[0] as T.ClientTryRequest;
    expect(run).toMatchObject({ id: 'gateway', grant: 'token_exchange', client_secret: 's3cret', subject_token: 'eyJh.eyJp.c2ln', audience: 'orders-api' });
    expect(secret.value).toBe('');
    expect($(t, '[data-testid=exchange-ran]')?.textContent).toContain('access_token');
    click($(t, '[data-testid=exchange-inspect]'));
    expect(shell.went).toContain('tokens:exchanged.jwt.token');
  });
});
