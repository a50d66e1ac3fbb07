// The Exchange page's logic, kept out of the component so it is tested on its own: the
// requester × target matrix and the policy editor's draft and its checks. The checks mirror the server's (crates/latchkey-core/src/manage/
// exchange_policies.rs) so a mistake is shown while typing; the server still decides,
// and its refusal is shown in the editor too.
import type { ExchangePolicyDto, ExchangePolicyCreateRequest, ExchangePolicyUpdateRequest } from './types';

/** The bounds the server enforces (crates/latchkey-core/src/limits.rs). */
export const MAX_EXCHANGE_TTL = 3600;
export const DEFAULT_EXCHANGE_TTL = 300;
export const MAX_ACT_DEPTH = 10;

export interface MatrixCell {
  enabled: ExchangePolicyDto[];
  disabled: ExchangePolicyDto[];
}

export interface Matrix {
  requesters: string[];
  targets: string[];
  cell(requester: string, target: string): MatrixCell;
}

/** Which requester may exchange for which target, and under which policies. */
export function exchangeMatrix(policies: ExchangePolicyDto[]): Matrix {
  const requesters = [...new Set(policies.map((p) => p.requester_client_id))].sort();
  const targets = [...new Set(policies.flatMap((p) => p.targets))].sort();
  const cells = new Map<string, MatrixCell>();
  for (const p of policies) {
    for (const t of p.targets) {
      const k = `${p.requester_client_id}\u0000${t}`;
      const c = cells.get(k) ?? { enabled: [], disabled: [] };
      (p.enabled ? c.enabled : c.disabled).push(p);
      cells.set(k, c);
    }
  }
  return {
    requesters,
    targets,
    cell: (r, t) => cells.get(`${r}\u0000${t}`) ?? { enabled: [], disabled: [] },
  };
}

export type Mode = 'impersonation' | 'delegation' | 'either';

/** The editor's fields as the form holds them (lists as text where people type them). */
export interface PolicyDraft {
  enabled: boolean;
  note: string;
  requester: string;
  mode: Mode;
  /** One per line (or comma-separated). */
  targets: string;
  subjectAccess: boolean;
  subjectId: boolean;
  mustBeInAud: boolean;
  subjectClients: string[];
  /** Space- or comma-separated. */
  scopes: string;
  issueAccess: boolean;
  issueId: boolean;
  /** A refresh token may come with an exchanged access token (RFC 8693 §2.2.1). */
  issueRefresh: boolean;
  actors: string[];
  maxTtl: number;
  maxActDepth: number;
}

export function policyDraft(p: ExchangePolicyDto | null): PolicyDraft {
  return {
    enabled: p?.enabled ?? true,
    note: p?.note ?? '',
    requester: p?.requester_client_id ?? '',
    mode: (p?.mode as Mode) ?? 'impersonation',
    targets: p?.targets.join('\n') ?? '',
    subjectAccess: p ? p.subject_token_types.includes('access_token') : true,
    subjectId: p ? p.subject_token_types.includes('id_token') : false,
    mustBeInAud: p?.requester_must_be_in_subject_aud ?? true,
    subjectClients: p ? [...p.subject_client_ids] : [],
    scopes: p?.scopes.join(' ') ?? '',
    issueAccess: p ? p.issued_token_types.includes('access_token') : true,
    issueId: p ? p.issued_token_types.includes('id_token') : false,
    issueRefresh: p ? p.issued_token_types.includes('refresh_token') : false,
    actors: p ? [...p.actor_client_ids] : [],
    maxTtl: p?.max_ttl_secs ?? DEFAULT_EXCHANGE_TTL,
    maxActDepth: p?.max_act_depth ?? 3,
  };
}

const list = (s: string, sep: RegExp) => [...new Set(s.split(sep).map((v) => v.trim()).filter(Boolean))];
const targetsOf = (d: PolicyDraft) => list(d.targets, /[\n,]+/);
const scopesOf = (d: PolicyDraft) => list(d.scopes, /[\s,]+/);
// RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** What is wrong with the draft, in the words the server would use; empty when nothing. */
export function draftErrors(d: PolicyDraft): string[] {
  const out: string[] = [];
  if (!d.requester) out.push('Choose the requester: the confidential client that calls /token.');
  const targets = targetsOf(d);
  if (targets.length === 0) out.push('Name at least one target: an audience or resource the new tokens are for.');
  for (const t of targets) {
    if (t.includes('#')) out.push(`The target “${t}” must not contain a fragment (RFC 8707 §2).`);
  }
  if (!d.subjectAccess && !d.subjectId) out.push('Allow at least one kind of subject token.');
  if (!d.issueAccess && !d.issueId) out.push('Allow at least one issued token type.');
  if (d.issueRefresh && !d.issueAccess) out.push('A refresh token only comes with an exchanged access token: allow access tokens too.');
  for (const s of scopesOf(d)) {
    if (!SCOPE_TOKEN.test(s)) out.push(`“${s}” is not a valid scope.`);
  }
  if (!Number.isInteger(d.maxTtl) || d.maxTtl < 1 || d.maxTtl > MAX_EXCHANGE_TTL) {
    out.push(`The longest lifetime must be between 1 and ${MAX_EXCHANGE_TTL} seconds.`);
  }
  if (d.mode !== 'impersonation' && (!Number.isInteger(d.maxActDepth) || d.maxActDepth < 1 || d.maxActDepth > MAX_ACT_DEPTH)) {
    out.push(`The longest actor chain must be between 1 and ${MAX_ACT_DEPTH}.`);
  }
  if (d.note.length > 500) out.push('The note must be at most 500 characters.');
  return out;
}

function types(access: boolean, id: boolean): string[] {
  return [...(access ? ['access_token'] : []), ...(id ? ['id_token'] : [])];
}

export function draftToCreate(d: PolicyDraft): ExchangePolicyCreateRequest {
  const impersonation = d.mode === 'impersonation';
  return {
    enabled: d.enabled,
    note: d.note.trim(),
    requester_client_id: d.requester,
    subject_client_ids: d.subjectClients,
    subject_token_types: types(d.subjectAccess, d.subjectId),
    requester_must_be_in_subject_aud: d.mustBeInAud,
    targets: targetsOf(d),
    scopes: scopesOf(d),
    mode: d.mode,
    // Actors only mean something when there is an actor; the server refuses them otherwise.
    actor_client_ids: impersonation ? [] : d.actors,
    max_ttl_secs: d.maxTtl,
    issued_token_types: [...types(d.issueAccess, d.issueId), ...(d.issueRefresh ? ['refresh_token'] : [])],
    max_act_depth: impersonation ? 3 : d.maxActDepth,
  };
}

export function draftToUpdate(d: PolicyDraft): ExchangePolicyUpdateRequest {
  return { ...draftToCreate(d) };
}
