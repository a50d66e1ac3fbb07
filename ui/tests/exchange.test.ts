import { describe, expect, it } from 'vitest';
import type * as T from '../src/lib/types';
import { draftErrors, draftToCreate, exchangeMatrix, policyDraft } from '../src/lib/exchange';

function policy(over: Partial<T.ExchangePolicyDto> = {}): T.ExchangePolicyDto {
  return {
    id: 'p-' + Math.random().toString(36).slice(2, 8), enabled: true, note: '', requester_client_id: 'gateway',
    subject_client_ids: [], subject_token_types: ['access_token'], requester_must_be_in_subject_aud: true,
    targets: ['orders-api'], scopes: [], mode: 'impersonation', actor_client_ids: [], max_ttl_secs: 300,
    issued_token_types: ['access_token'], max_act_depth: 3, created_at: 0, updated_at: 0,
    ...over,
  };
}

describe('the exchange matrix', () => {
  it('has a row per requester and a column per target, and a cell names only the policies that allow that pair', () => {
    const a = policy({ requester_client_id: 'gateway', targets: ['orders-api', 'billing-api'] });
    const b = policy({ requester_client_id: 'orders', targets: ['billing-api'], mode: 'delegation' });
    const off = policy({ requester_client_id: 'orders', targets: ['orders-api'], enabled: false });
    const m = exchangeMatrix([a, b, off]);
    expect(m.requesters).toEqual(['gateway', 'orders']);
    expect(m.targets).toEqual(['billing-api', 'orders-api']);
    expect(m.cell('gateway', 'billing-api').enabled).toEqual([a]);
    expect(m.cell('orders', 'billing-api').enabled).toEqual([b]);
    // A disabled policy allows nothing: the pair shows as disabled, not allowed.
    expect(m.cell('orders', 'orders-api')).toEqual({ enabled: [], disabled: [off] });
    expect(m.cell('gateway', 'nowhere')).toEqual({ enabled: [], disabled: [] });
  });

  it('is empty when there is no policy (deny by default)', () => {
    const m = exchangeMatrix([]);
    expect(m.requesters).toEqual([]);
    expect(m.targets).toEqual([]);
  });
});

describe('the policy editor', () => {
  it('starts from the server defaults: access tokens in and out, requester in the audience, impersonation, 300 s', () => {
    const d = policyDraft(null);
    expect(d).toMatchObject({ enabled: true, mode: 'impersonation', subjectAccess: true, subjectId: false, mustBeInAud: true, issueAccess: true, issueId: false, maxTtl: 300 });
    expect(draftErrors(d)).toContain('Choose the requester: the confidential client that calls /token.');
  });

  it('names every mistake the server would refuse while the admin types', () => {
    const d = { ...policyDraft(null), requester: 'gateway', targets: 'https://api.example/#frag', scopes: 'ok bad"scope',
      subjectAccess: false, issueAccess: false, maxTtl: 7200, mode: 'delegation' as const, maxActDepth: 0 };
    const errs = draftErrors(d);
    expect(errs).toEqual(expect.arrayContaining([
      'The target “https://api.example/#frag” must not contain a fragment (RFC 8707 §2).',
      'Allow at least one kind of subject token.',
      'Allow at least one issued token type.',
      '“bad"scope” is not a valid scope.',
      'The longest lifetime must be between 1 and 3600 seconds.',
      'The longest actor chain must be between 1 and 10.',
    ]));
    expect(draftErrors({ ...policyDraft(null), requester: 'gateway', targets: '' })).toContain(
      'Name at least one target: an audience or resource the new tokens are for.');
  });

  it('turns a valid draft into the create request, one target per line, and drops actors for impersonation', () => {
    const d = { ...policyDraft(null), requester: 'gateway', targets: 'orders-api\n https://billing.example/ \norders-api', scopes: 'orders:read, orders:write',
      actors: ['someone'], subjectId: true };
    expect(draftErrors(d)).toEqual([]);
    const req = draftToCreate(d);
    expect(req.targets).toEqual(['orders-api', 'https://billing.example/']);
    expect(req.scopes).toEqual(['orders:read', 'orders:write']);
    expect(req.subject_token_types).toEqual(['access_token', 'id_token']);
    expect(req.actor_client_ids).toEqual([]);
    expect(draftToCreate({ ...d, mode: 'delegation' }).actor_client_ids).toEqual(['someone']);
  });

  it('offers a refresh token only beside access tokens and sends it as refresh_token', () => {
    const d = { ...policyDraft(null), requester: 'gateway', targets: 'orders-api', issueRefresh: true };
    expect(draftErrors(d)).toEqual([]);
    expect(draftToCreate(d).issued_token_types).toEqual(['access_token', 'refresh_token']);
    expect(draftErrors({ ...d, issueAccess: false, issueId: true })).toContain(
      'A refresh token only comes with an exchanged access token: allow access tokens too.');
    expect(policyDraft(policy({ issued_token_types: ['access_token', 'refresh_token'] })).issueRefresh).toBe(true);
  });

  it('round-trips a stored policy through the draft unchanged', () => {
    const p = policy({ mode: 'either', actor_client_ids: ['svc'], max_act_depth: 2, scopes: ['a', 'b'], issued_token_types: ['access_token', 'id_token'], note: 'why' });
    const req = draftToCreate(policyDraft(p));
    for (const k of ['requester_client_id', 'targets', 'scopes', 'mode', 'actor_client_ids', 'max_ttl_secs', 'issued_token_types', 'max_act_depth', 'note', 'subject_token_types'] as const) {
      expect(req[k]).toEqual(p[k]);
    }
  });
});
