// Generated from the Rust types in crates/latchkey-api-types. Do not edit:
// run `LATCHKEY_UPDATE_TS=1 cargo test -p latchkey-api-types` after changing them.
/* eslint-disable */

/** Any JSON value (`serde_json::Value`, whose schema allows everything). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** One event of `GET /admin/v1/events` (server-sent events, `event:` = `kind`). */
export interface AdminEventDto {
  /** The audit event behind it (secrets redacted there already). */
  event: AuditEventDto;
  /** Which pages it concerns: [`EventKind::of`] the audit event. */
  kind: EventKind;
}

/**
 * Every error of the admin API and the IPC: a stable `code` the UI can branch on
 * (`not_found`, `invalid_input`, `conflict`, `unavailable`, `internal`, and at the
 * API edge `unauthorized`, `forbidden`) and a human message without secrets.
 */
export interface ApiErrorDto {
  /**
   * One of [`ErrorCode`]'s strings (kept a string in Rust so a code from a newer
   * server still parses; its schema and TS type are the union).
   */
  code: ErrorCode;
  message: string;
}

/** `POST /admin/v1/api-keys`. */
export interface ApiKeyCreateRequest {
  /** Seconds until the key stops working; absent: the default (90 days). */
  expires_in?: number | null;
  name?: string;
  /** A key that never expires, only when asked for explicitly (not with `expires_in`). */
  never_expires?: boolean;
  read_only?: boolean;
}

/** The answer to creating an API key: the key itself, shown this once. */
export interface ApiKeyCreated {
  /** Send as `Authorization: Bearer <api_key>`. Never shown again. */
  api_key: string;
  created_at: number;
  created_by: string;
  expires_at?: number | null;
  id: string;
  last_used_at?: number | null;
  name: string;
  /** Read-only keys may only call the admin API's reads. */
  read_only: boolean;
  revoked_at?: number | null;
}

export interface ApiKeyDto {
  created_at: number;
  created_by: string;
  expires_at?: number | null;
  id: string;
  last_used_at?: number | null;
  name: string;
  /** Read-only keys may only call the admin API's reads. */
  read_only: boolean;
  revoked_at?: number | null;
}

/**
 * The `action` of an audit event written by an admin operation or the engine.
 * Security events (`security.…`, flagged `security`) are [`SecurityFamily`]'s, with
 * a detail (the endpoint, the error), and are not listed here: their event kind
 * comes from the flag.
 */
export type AuditAction = 'client.create' | 'client.update' | 'client.delete' | 'client.rotate_secret' | 'client.enable' | 'client.disable' | 'client.clone' | 'scope.create' | 'scope.delete' | 'user.create' | 'user.disable' | 'user.enable' | 'user.set_password' | 'user.update' | 'key.rotate' | 'key.revoke' | 'session.create' | 'session.revoke' | 'session.revoke_user' | 'session.revoke_client' | 'session.revoke_selected' | 'session.revoke_filter' | 'api_key.create' | 'api_key.revoke' | 'settings.update' | 'exchange_policy.create' | 'exchange_policy.update' | 'exchange_policy.delete' | 'finding.ack' | 'block.add' | 'block.remove' | 'webhook.create' | 'webhook.update' | 'webhook.delete' | 'registration_token.revoke' | 'scope.update' | 'user.delete' | 'key.schedule' | 'token.revoke' | 'token.exchange' | 'token.exchange_refused' | 'webhook.test' | 'registration_token.create' | 'client.register' | 'config.apply';

export interface AuditEventDto {
  /** e.g. `client.create`, `session.revoke`, `security.refresh_token.reuse_detected`. */
  action: string;
  /** `local-admin`, `user:<id>`, `api-key:<id>`, `system`, … */
  actor: string;
  after?: JsonValue;
  at: number;
  /** JSON values before and after the change, secrets redacted. */
  before?: unknown;
  id: number;
  ip?: string | null;
  security: boolean;
  target?: string | null;
}

/** `GET /admin/v1/audit?…`. */
export interface AuditFilterDto {
  /** Actions starting with this (`client.` for every client change). */
  action_prefix?: string | null;
  actor?: string | null;
  /** `next_cursor` of the previous page. */
  cursor?: string | null;
  /** Default 100, at most 1000. */
  limit?: number | null;
  /** `desc` (default, newest first) | `asc` (oldest first, as an export reads). */
  order?: string | null;
  security_only?: boolean;
  /** Unix seconds: at or after. */
  since?: number | null;
  target?: string | null;
  /** Unix seconds: before. */
  until?: number | null;
}

/** One page of audit events, in the order asked for. */
export interface AuditPageDto {
  items: AuditEventDto[];
  next_cursor?: string | null;
}

/** Where to write a backup of an embedded store. */
export interface BackupCreateRequest {
  /** The backup file to create (a new file; an existing one is never overwritten). */
  path: string;
}

/** A finished backup. */
export interface BackupCreatedDto {
  bytes: number;
  /** Where the key-encryption key is, which the backup does not hold. */
  kek_location: string;
  /** The file written (mode 0600). */
  path: string;
  /** The newest migration in the copy. */
  schema_version: number;
}

/** `POST /admin/v1/blocks`. */
export interface BlockAddRequest {
  /** An address (`203.0.113.7`, `2001:db8::1`) or network (`198.51.100.0/24`). */
  address?: string;
  /** Seconds the block lasts; absent: until removed. */
  expires_in?: number | null;
  reason?: string | null;
}

/** An address or network refused at sign-in and at the token endpoints. */
export interface BlockDto {
  /** Canonical `a.b.c.d/n` or `x::/n`. */
  address: string;
  created_at: number;
  /** An administrator, or `detection:<rule>`. */
  created_by: string;
  /** Absent: until removed. */
  expires_at?: number | null;
  /**
   * Absent: everyone from there. `user:NAME` or `client:ID`: only that account or
   * client from there (what a brute force earns, so a stranger elsewhere cannot
   * lock the account out).
   */
  principal?: string | null;
  reason: string;
}

/** `POST /admin/v1/blocks/remove`: every block of that address or network. */
export interface BlockRemoveRequest {
  address?: string;
}

/** One claim, with its meaning in plain words. */
export interface ClaimLine {
  claim: string;
  meaning: string;
  value: JsonValue;
}

/** `POST /admin/v1/clients/{id}/clone`. */
export interface ClientCloneRequest {
  /** Default: "<name> (copy)". */
  name?: string | null;
  /**
   * The copy's redirect URIs instead of the source's: a test copy with a loopback
   * redirect, so nobody adds one to a production client to try it.
   */
  redirect_uris?: string[] | null;
}

/** `POST /admin/v1/clients`. Omitted fields take the server's defaults. */
export interface ClientCreateRequest {
  access_token_ttl?: number | null;
  /** Marks the client as an admin tool: it may then list the admin scopes. Audited. */
  admin_tool?: boolean | null;
  /** Web origins of a browser app (CORS); absent: the origins of the redirect URIs. */
  allowed_origins?: string[] | null;
  allowed_scopes?: string[];
  assertion_aud_compat?: boolean | null;
  auth_method?: string | null;
  client_type?: string | null;
  /** RFC 9449 §5.2 `dpop_bound_access_tokens`. */
  dpop_bound_access_tokens?: boolean | null;
  grant_types?: string[];
  jwks?: unknown;
  jwks_uri?: string | null;
  name?: string;
  post_logout_redirect_uris?: string[];
  redirect_uris?: string[];
  refresh_grace_secs?: number | null;
  refresh_idle_ttl?: number | null;
  refresh_token_ttl?: number | null;
  require_consent?: boolean | null;
  /** RFC 9126 §6 (default false). */
  require_pushed_authorization_requests?: boolean | null;
}

/**
 * A newly registered client. Serialised flat, so the JSON has `client_id` and — this
 * once — `client_secret` at the top level, as RFC 7591 §3.2.1 responses do.
 */
export interface ClientCreated {
  access_token_ttl: number;
  /** May request the admin scopes (reserved to `latchkey-console` and admin tools). */
  admin_tool?: boolean;
  /** The web origins set for this client (CORS); `None`: they follow its redirect URIs. */
  allowed_origins?: string[] | null;
  allowed_scopes: string[];
  /**
   * `private_key_jwt`: an assertion `aud` that is an array or an endpoint URL is also
   * accepted (compatibility); false: only the issuer as one string.
   */
  assertion_aud_compat?: boolean;
  /** RFC 7591 `token_endpoint_auth_method`. */
  auth_method: string;
  /**
   * Ships with the server (`latchkey-console`, through which administrators sign
   * in): it cannot be deleted or disabled.
   */
  builtin?: boolean;
  client_id: string;
  /**
   * Present for confidential clients that authenticate with a secret. Never
   * retrievable again.
   */
  client_secret?: string | null;
  /** `confidential` | `public` (RFC 6749 §2.1). */
  client_type: string;
  created_at: number;
  disabled: boolean;
  /** RFC 9449 §5.2: token requests without a DPoP proof are refused. */
  dpop_bound_access_tokens?: boolean;
  /** RFC 7591 `grant_types` values. */
  grant_types: string[];
  /** The client's public JWK Set (`private_key_jwt`). */
  jwks?: unknown;
  /** Or where the client publishes it. */
  jwks_uri?: string | null;
  name: string;
  post_logout_redirect_uris: string[];
  redirect_uris: string[];
  refresh_grace_secs: number;
  refresh_idle_ttl: number;
  refresh_token_ttl: number;
  /**
   * Registered by the client itself (RFC 7591 dynamic registration), not by an
   * administrator.
   */
  registered?: boolean;
  require_consent: boolean;
  /** RFC 9126 §6: `/authorize` answers this client only with a pushed request. */
  require_pushed_authorization_requests?: boolean;
  /** Unix seconds; every token issued to the client before it is inactive. */
  tokens_valid_after: number;
  updated_at: number;
  /** The origins in force: `allowed_origins`, or those of the redirect URIs. */
  web_origins?: string[];
}

export interface ClientDto {
  access_token_ttl: number;
  /** May request the admin scopes (reserved to `latchkey-console` and admin tools). */
  admin_tool?: boolean;
  /** The web origins set for this client (CORS); `None`: they follow its redirect URIs. */
  allowed_origins?: string[] | null;
  allowed_scopes: string[];
  /**
   * `private_key_jwt`: an assertion `aud` that is an array or an endpoint URL is also
   * accepted (compatibility); false: only the issuer as one string.
   */
  assertion_aud_compat?: boolean;
  /** RFC 7591 `token_endpoint_auth_method`. */
  auth_method: string;
  /**
   * Ships with the server (`latchkey-console`, through which administrators sign
   * in): it cannot be deleted or disabled.
   */
  builtin?: boolean;
  client_id: string;
  /** `confidential` | `public` (RFC 6749 §2.1). */
  client_type: string;
  created_at: number;
  disabled: boolean;
  /** RFC 9449 §5.2: token requests without a DPoP proof are refused. */
  dpop_bound_access_tokens?: boolean;
  /** RFC 7591 `grant_types` values. */
  grant_types: string[];
  /** The client's public JWK Set (`private_key_jwt`). */
  jwks?: unknown;
  /** Or where the client publishes it. */
  jwks_uri?: string | null;
  name: string;
  post_logout_redirect_uris: string[];
  redirect_uris: string[];
  refresh_grace_secs: number;
  refresh_idle_ttl: number;
  refresh_token_ttl: number;
  /**
   * Registered by the client itself (RFC 7591 dynamic registration), not by an
   * administrator.
   */
  registered?: boolean;
  require_consent: boolean;
  /** RFC 9126 §6: `/authorize` answers this client only with a pushed request. */
  require_pushed_authorization_requests?: boolean;
  /** Unix seconds; every token issued to the client before it is inactive. */
  tokens_valid_after: number;
  updated_at: number;
  /** The origins in force: `allowed_origins`, or those of the redirect URIs. */
  web_origins?: string[];
}

/**
 * `GET /admin/v1/clients/{id}/impact`: what disabling or deleting the client would cut
 * off, counted when asked (the dry run the console shows before either).
 */
export interface ClientImpactDto {
  /** A built-in client: neither disable nor delete is allowed. */
  builtin: boolean;
  client_id: string;
  disabled: boolean;
  /** Unix seconds of the last token issued to the client (any grant), if any. */
  last_token_at?: number | null;
  /**
   * Unexpired access tokens on record (issued under sessions), inactive at
   * introspection from then on.
   */
  live_access_tokens: number;
  name: string;
  /** Refresh-token families that would stop working. */
  refresh_families: number;
  /** Live sessions that would end. */
  sessions: number;
  /** Tokens issued to it in the last hour (every grant). */
  tokens_last_hour: number;
}

/** `POST /admin/v1/clients/{id}/disabled`. */
export interface ClientSetDisabledRequest {
  disabled: boolean;
}

/** Runs a client's own flow ("Try it"). */
export interface ClientTryRequest {
  /** … the actor's token for delegation (an access token) … */
  actor_token?: string | null;
  /** … and what the new token is for (one of the two). */
  audience?: string | null;
  /** The client's secret for a confidential client; used once, never kept. */
  client_secret?: string | null;
  /**
   * RFC 9449: bind the tokens to a key the console makes for this run and forgets
   * after it (always on for a client whose tokens must be DPoP-bound).
   */
  dpop?: boolean;
  grant: TryGrant;
  id: string;
  /**
   * RFC 9126: push the authorization request first (authorization code only; always
   * on for a client or server that requires it).
   */
  par?: boolean;
  /** `access_token` (default) | `id_token`, or the full URN. */
  requested_token_type?: string | null;
  resource?: string | null;
  /** Space-separated; default: what the client may ask for, for this grant. */
  scope?: string | null;
  /** Token exchange: the token traded (RFC 8693 §2.1 `subject_token`) … */
  subject_token?: string | null;
  /** … its type (`access_token` | `id_token`, or the full URN; default access token) … */
  subject_token_type?: string | null;
}

/**
 * The tokens "Try it" got, for the inspector. The refresh token is not handed over:
 * the inspector has no use for it, and it would outlive the look.
 */
export interface ClientTryResult {
  access_token: string;
  /** RFC 7638 thumbprint of the run's DPoP key, which the tokens' `cnf.jkt` names. */
  dpop_jkt?: string | null;
  expires_in?: number | null;
  grant: TryGrant;
  id_token?: string | null;
  /**
   * Token exchange: what `access_token` holds (RFC 8693 §2.2.1 `issued_token_type`;
   * an ID token comes with `token_type` `N_A`).
   */
  issued_token_type?: string | null;
  /** The authorization request went through the PAR endpoint. */
  pushed?: boolean;
  /** The redirect used (authorization code only). */
  redirect_uri?: string | null;
  refresh_token_issued: boolean;
  scope?: string | null;
  token_type?: string | null;
}

/**
 * `PATCH /admin/v1/clients/{id}`: absent fields stay as they are. `jwks: null`
 * removes the JWK Set (absent leaves it).
 */
export interface ClientUpdateRequest {
  access_token_ttl?: number | null;
  admin_tool?: boolean | null;
  /** `null`: the origins follow the redirect URIs again; absent leaves them. */
  allowed_origins?: string[] | null;
  allowed_scopes?: string[] | null;
  assertion_aud_compat?: boolean | null;
  auth_method?: string | null;
  disabled?: boolean | null;
  dpop_bound_access_tokens?: boolean | null;
  grant_types?: string[] | null;
  jwks?: JsonValue;
  /** `null` removes the JWK Set URL; absent leaves it. */
  jwks_uri?: string | null;
  name?: string | null;
  post_logout_redirect_uris?: string[] | null;
  redirect_uris?: string[] | null;
  refresh_grace_secs?: number | null;
  refresh_idle_ttl?: number | null;
  refresh_token_ttl?: number | null;
  require_consent?: boolean | null;
  require_pushed_authorization_requests?: boolean | null;
}

/** The outcome of an apply. */
export interface ConfigAppliedDto {
  /** Whether anything was written. */
  applied: boolean;
  /** What was applied (no changes: nothing was). */
  plan: ConfigPlanDto;
}

/** What to apply: as a plan, plus the plan the caller approved. */
export interface ConfigApplyRequest {
  /**
   * The `plan_id` of the plan that was shown: refused (`conflict`) if the target
   * changed since, so what is applied is what was approved.
   */
  expected_plan?: string | null;
  files?: ConfigFileDto[];
  prune?: boolean;
  /**
   * As in [`ConfigPlanRequest::secrets`]; every reference a change needs must have
   * its value here.
   */
  secrets?: Record<string, string>;
}

/** One item a plan creates, changes or deletes. */
export interface ConfigChangeDto {
  /** `create`, `update` or `delete`. */
  action: string;
  fields: ConfigFieldChangeDto[];
  /** Its key in the document (client id, scope name, username, policy id, setting). */
  id: string;
  /** `client`, `scope`, `user`, `exchange_policy` or `setting`. */
  kind: string;
}

/** Whether the target changed since the last apply recorded in it. */
export interface ConfigDriftDto {
  /**
   * The target no longer matches what that apply left (someone changed it
   * elsewhere: the console, the CLI, the admin API).
   */
  drifted: boolean;
  /** When the last apply ran (Unix seconds); `None`: never applied. */
  last_applied_at?: number | null;
  last_applied_by?: string | null;
}

/** The target's configuration as a document. */
export interface ConfigExportDto {
  /** SHA-256 (hex) of `yaml`: what drift is judged by. */
  fingerprint: string;
  /** The YAML document (sorted, deterministic; secrets only as references). */
  yaml: string;
}

/**
 * One field of a change: `old` → `new` as short text (JSON for lists); `None` where
 * there is nothing (a create's old side, a delete's new side). Secrets never appear:
 * only `(secret)` or the reference a new one comes from.
 */
export interface ConfigFieldChangeDto {
  field: string;
  new?: string | null;
  old?: string | null;
}

/**
 * One YAML file of a configuration document. A plan or an apply takes the base first,
 * then the overlays merged over it in order (`latchkey.yaml`, `latchkey.staging.yaml`).
 */
export interface ConfigFileDto {
  /** Its name in error messages (the file's path). */
  name: string;
  yaml: string;
}

/** What applying a document would do. */
export interface ConfigPlanDto {
  /** In the order they would be applied. */
  changes: ConfigChangeDto[];
  drift: ConfigDriftDto;
  /** SHA-256 (hex) of the export the target will have after the apply. */
  fingerprint: string;
  /** Things to know that are not changes (a secret not checked, …). */
  notes: string[];
  /**
   * Identifies this plan (the target's state and the changes): an apply with
   * `expected_plan` runs only if it would do exactly this.
   */
  plan_id: string;
  /** Deletions left out because `prune` was not asked for. */
  skipped: ConfigChangeDto[];
}

/** What to plan: the document and the values of its secret references. */
export interface ConfigPlanRequest {
  files?: ConfigFileDto[];
  /**
   * Delete what the target has and the document does not (otherwise listed as
   * skipped).
   */
  prune?: boolean;
  /**
   * The values of the document's `${env:NAME}` / `${file:PATH}` references, resolved
   * on the caller's side (the server never reads its own environment or files for
   * them), by reference. Never returned, logged or audited; a reference without a
   * value is planned without checking the secret.
   */
  secrets?: Record<string, string>;
}

/**
 * A connection to add (and open): an embedded file, or a remote server. `kind` and
 * `auth` are strings so that a wrong value gets the shell's own message.
 */
export interface ConnectionAddRequest {
  /** Typed in once; kept in the OS keyring, never shown again. */
  api_key?: string | null;
  auth?: RemoteAuth | null;
  colour: string;
  /** Make the file when it does not exist yet. */
  create?: boolean;
  db_path?: string | null;
  issuer?: string | null;
  kind: ConnectionKind;
  name: string;
  server?: string | null;
}

/** A saved connection as the switcher lists it. No credential: only whether one is kept. */
export interface ConnectionDto {
  active: boolean;
  /** How a remote connection authenticates; `null` when embedded. */
  auth?: RemoteAuth | null;
  colour: string;
  id: string;
  issuer?: string | null;
  kind: ConnectionKind;
  /** The database file, or the admin API's URL. */
  location: string;
  name: string;
  /** A remote connection's credential is stored (keyring, or memory for this run). */
  signed_in: boolean;
}

/**
 * What a connection administers: a SQLite file served in-process, or a remote
 * `latchkey serve` deployment's admin API.
 */
export type ConnectionKind = 'embedded' | 'remote';

/** Where the console is in opening its connection. */
export type ConsoleState = 'starting' | 'ready' | 'failed';

/** What the UI learns about the connection. Never carries a secret. */
export interface ConsoleStatus {
  /** The badge colour (one of the shell's `COLOURS`). */
  colour: string;
  /** The saved connection's id. */
  connection_id: string;
  /** Where a remote connection's credential is kept; `null` when embedded. */
  credential_store?: CredentialStore | null;
  /** The embedded file; empty for a remote connection. */
  db_path: string;
  /** Why starting failed, as the UI shows every error. */
  error?: ApiErrorDto | null;
  /**
   * The first admin's username while their generated password has not yet been
   * shown (it is shown once, then forgotten).
   */
  first_admin_pending?: string | null;
  issuer: string;
  kind: ConnectionKind;
  /** The name shown on the connection badge. */
  name: string;
  /** The in-process server's port; 0 for a remote connection. */
  port: number;
  /** The remote admin API; `null` for an embedded connection. */
  server?: string | null;
  state: ConsoleState;
  version: string;
}

/** Where a remote connection's credential is kept. */
export type CredentialStore = 'keyring' | 'memory';

/** The `code` of every admin API and IPC error. */
export type ErrorCode = 'not_found' | 'invalid_input' | 'conflict' | 'unavailable' | 'rate_limited' | 'internal' | 'builtin' | 'unauthorized' | 'forbidden' | 'untrusted_server';

/** What a live admin event means to the console's pages (which of them refresh). */
export type EventKind = 'session_created' | 'session_revoked' | 'key_rotated' | 'key_revoked' | 'client_changed' | 'security_event' | 'changed';

/**
 * The answer of the explain tool: allowed (which policy, and the claims of the token
 * that would be issued) or refused (the error /token would answer, and exactly which
 * rule refused and why). Nothing was issued or audited.
 */
export interface ExchangeExplainDto {
  actor?: ExchangeTokenFactsDto | null;
  allowed: boolean;
  audience?: string | null;
  claims?: JsonValue;
  detail?: string | null;
  /** Refused: the OAuth error code /token would answer (RFC 8693 §2.2.2) … */
  error?: string | null;
  /** … its fixed description … */
  error_description?: string | null;
  expires_in?: number | null;
  /** Allowed: what would be issued (RFC 8693 §2.2.1), and its claims. */
  issued_token_type?: string | null;
  policies: ExchangePolicyVerdictDto[];
  /** The policy that allows it. */
  policy_id?: string | null;
  /**
   * Allowed: whether a refresh token would come with the access token (the policy
   * names `refresh_token` and the subject is a user's session token without `act`).
   */
  refresh_token?: boolean;
  /** … and, for the administrator only, the rule and why. */
  rule?: string | null;
  scopes: string[];
  subject?: ExchangeTokenFactsDto | null;
  /** `Bearer`, or `N_A` for an ID token. */
  token_type?: string | null;
}

/**
 * `POST /admin/v1/exchange-policies/explain`: a token exchange as `requester_client_id`
 * would send it (RFC 8693 §2.1), evaluated by the server's own rules and not carried
 * out. Token types default to `access_token`.
 */
export interface ExchangeExplainRequest {
  actor_token?: string | null;
  actor_token_type?: string | null;
  audience?: string | null;
  requested_token_type?: string | null;
  requester_client_id?: string;
  resource?: string | null;
  scope?: string | null;
  subject_token?: string;
  subject_token_type?: string | null;
}

/**
 * `POST /admin/v1/exchange-policies`. Absent fields take the defaults: enabled,
 * `access_token` in and out, requester must be in the subject's `aud`, mode
 * `impersonation`, lifetime cap 300 s, `act` depth 3.
 */
export interface ExchangePolicyCreateRequest {
  actor_client_ids?: string[];
  enabled?: boolean | null;
  issued_token_types?: string[] | null;
  max_act_depth?: number | null;
  max_ttl_secs?: number | null;
  mode?: string | null;
  note?: string | null;
  requester_client_id?: string;
  requester_must_be_in_subject_aud?: boolean | null;
  scopes?: string[];
  subject_client_ids?: string[];
  subject_token_types?: string[] | null;
  targets?: string[];
}

/**
 * A token-exchange policy: what a requester may exchange, for whom and for what. Token
 * types are short names (`access_token`, `id_token`).
 */
export interface ExchangePolicyDto {
  /** Clients whose tokens may be actor tokens; empty: only the requester's own. */
  actor_client_ids: string[];
  created_at: number;
  enabled: boolean;
  id: string;
  issued_token_types: string[];
  max_act_depth: number;
  max_ttl_secs: number;
  /** `impersonation` | `delegation` | `either`. */
  mode: string;
  note: string;
  /** The confidential client that calls /token. */
  requester_client_id: string;
  /** The requester must be in the subject token's `aud` or be its client. */
  requester_must_be_in_subject_aud: boolean;
  /** Empty: any subset of the subject's scopes; otherwise only these. */
  scopes: string[];
  /** Whose tokens it may present; empty: any client's. */
  subject_client_ids: string[];
  subject_token_types: string[];
  /** Audiences / resource indicators the new tokens may be for. */
  targets: string[];
  updated_at: number;
}

/** `PATCH /admin/v1/exchange-policies/{id}`: each present field replaces the policy's. */
export interface ExchangePolicyUpdateRequest {
  actor_client_ids?: string[] | null;
  enabled?: boolean | null;
  issued_token_types?: string[] | null;
  max_act_depth?: number | null;
  max_ttl_secs?: number | null;
  mode?: string | null;
  note?: string | null;
  requester_client_id?: string | null;
  requester_must_be_in_subject_aud?: boolean | null;
  scopes?: string[] | null;
  subject_client_ids?: string[] | null;
  subject_token_types?: string[] | null;
  targets?: string[] | null;
}

/** One policy's verdict on an explained exchange. */
export interface ExchangePolicyVerdictDto {
  matched: boolean;
  policy_id: string;
  reason?: string | null;
  /** The first rule of this policy the request failed (`policy.target`, …). */
  rule?: string | null;
}

/**
 * One step of a token's exchange lineage: the token that step issued, the token it was
 * exchanged from, who asked and which policy allowed it. Identifiers only, no token.
 */
export interface ExchangeStep {
  issued_at: number;
  /** `access_token` or `id_token`. */
  issued_token_type: string;
  jti: string;
  parent_jti?: string | null;
  policy_id: string;
  requester_client_id: string;
  subject_client_id: string;
}

/** What the evaluation learnt of a subject or actor token (identity claims only). */
export interface ExchangeTokenFactsDto {
  /** The token's own actor chain (RFC 8693 §4.1). */
  act?: unknown;
  aud: string[];
  client_id: string;
  exp: number;
  jti?: string | null;
  scopes: string[];
  sid?: string | null;
  sub: string;
  token_type: string;
}

/** A finding a detection raised: what it saw, about whom, what was done. */
export interface FindingDto {
  acknowledged_at?: number | null;
  acknowledged_by?: string | null;
  /** What was done automatically (enforce mode), or `none (monitor mode)`. */
  action: string;
  /** The count the rule compared with its threshold. */
  count: number;
  /** Counts and what they were counted over (never a password or token). */
  evidence: unknown;
  first_seen: number;
  id: string;
  last_seen: number;
  raised_at: number;
  /**
   * The detection's stable id: `brute_force`, `spray`, `spray_success`,
   * `client_guess`.
   */
  rule: string;
  /** `low` | `medium` | `high` | `critical`. */
  severity: string;
  /** `open` | `acknowledged`. */
  status: string;
  /** The username, address or network (`a.b.c.d/32`, `x::/64`), or client id. */
  subject: string;
  /** `user` | `address` | `client`. */
  subject_kind: string;
}

/** `GET /admin/v1/findings?…`. */
export interface FindingFilterDto {
  /** At most this many (default 100, at most 1000), newest first. */
  limit?: number | null;
  /** Only this rule id. */
  rule?: string | null;
  /** Only this severity. */
  severity?: string | null;
}

export interface HealthDto {
  /**
   * The authorization server's issuer, where admin sign-in happens (absent when the
   * backend runs no authorization server).
   */
  issuer?: string | null;
  /**
   * `ok`; `unusable` when the key-encryption key cannot open the signing keys (a
   * wrong KEK: nothing can be signed, and status is not `ok`); `none` before the
   * first keys exist.
   */
  keys?: string;
  /**
   * `ok` when the store answers and the signing keys can be used; `keys_unusable`
   * otherwise (answered with 503); `starting` before the first keys exist.
   */
  status: string;
  /** Unix seconds on the server. */
  time: number;
  version: string;
}

/**
 * Why the server holds a token inactive: the closed part of the admin introspection's
 * `inactive_reason` (never sent by the public RFC 7662 endpoint, whose inactive answer is
 * a bare `{"active": false}`, §2.2).
 */
export type InactiveCode = 'expired' | 'not_yet_valid' | 'client_disabled' | 'session_expired' | 'malformed' | 'not_introspectable' | 'unknown_key' | 'key_revoked' | 'key_retired' | 'bad_signature' | 'wrong_issuer' | 'missing_claims' | 'client_deleted' | 'client_tokens_revoked' | 'session_revoked' | 'user_disabled' | 'revoked' | 'refresh_spent' | 'refresh_idle' | 'unknown';

/**
 * Why the server answers inactive, with when and by whom when the store knows (the
 * audit log, the session's revocation, the client's watermark).
 */
export interface InactiveReason {
  /** When it became inactive for this reason (Unix seconds), when known. */
  at?: number | null;
  /**
   * Who made it so (an audit actor: `local-admin`, `user:<id>`, `client:<id>`, …),
   * when known.
   */
  by?: string | null;
  code: InactiveCode;
  /** One sentence for people. */
  detail: string;
}

/**
 * A token taken apart: every claim explained and, check by check, whether it would be
 * accepted and why not (`latchkey token inspect`, the console's token page).
 */
export interface Inspection {
  checks: InspectionCheck[];
  claim_lines: ClaimLine[];
  claims: Record<string, JsonValue>;
  header: Record<string, JsonValue>;
  kind: TokenForm;
  /** The one verdict. */
  outcome: InspectionOutcome;
  /**
   * What was stripped from the pasted text before inspecting it (`Authorization:`,
   * `Bearer `, quotes, whitespace), in words; empty when nothing was.
   */
  removed: string[];
  /** The server's answer, when it was asked and answered. */
  server?: ServerAnswer | null;
  /** `outcome` is `active`, `valid_offline` or `not_introspectable`. */
  valid: boolean;
  /** One sentence: the verdict and its reason. */
  verdict: string;
}

/** One acceptance check of the inspector (signature, expiry, issuer, …). */
export interface InspectionCheck {
  detail: string;
  name: string;
  /** `null` = could not be checked (e.g. no keys available). */
  ok?: boolean | null;
}

/** The inspector's one verdict, combining the offline checks with the server's answer. */
export type InspectionOutcome = 'active' | 'valid_offline' | 'not_introspectable' | 'rejected' | 'undetermined';

export interface KeyDto {
  activated_at?: number | null;
  /** `RS256` | `ES256` | `EdDSA`. */
  alg: string;
  created_at: number;
  kid: string;
  /** The public JWK as published in the JWKS. */
  public_jwk: unknown;
  retired_at?: number | null;
  retiring_at?: number | null;
  revoked_at?: number | null;
  /** `next` | `active` | `retiring` | `retired` | `revoked`. */
  state: string;
}

export interface KeyRevokedDto {
  /** The key that signs for this algorithm now. */
  active_kid?: string | null;
  alg: string;
  kid: string;
  /** The state the key was in before it was revoked. */
  previous_state: string;
}

/** What a rotation did to one algorithm. */
export interface KeyRotatedDto {
  /** The key that signs now. */
  active_kid: string;
  alg: string;
  /** The key that signed before (now retiring), if any. */
  previous_kid?: string | null;
}

/** When each algorithm's keys change next. */
export interface KeyScheduleDto {
  active_kid?: string | null;
  active_since?: number | null;
  alg: string;
  /** The published successor that will sign next. */
  next_kid?: string | null;
  /** When the scheduled rotation makes `next_kid` active. */
  next_rotation_at?: number | null;
}

/** `POST /admin/v1/keys/rotate`. */
export interface KeysRotateRequest {
  /** One algorithm, or every algorithm when absent. */
  alg?: string | null;
}

export interface KeysScheduleDto {
  algorithms: KeyScheduleDto[];
  /** Seconds a successor is published before it signs. */
  prepublish: number;
  /** Seconds a retired-from-signing key stays published. */
  retire_after: number;
  /** Seconds a key signs before it is rotated. */
  rotate_every: number;
}

/** One thing on a security profile's timeline. */
export interface ProfileEntryDto {
  address?: string | null;
  at: number;
  client?: string | null;
  /** `failure` | `success` | `finding`. */
  kind: string;
  user?: string | null;
  /** In words: "wrong username or password", "signed in to Billing", "spray (high)". */
  what: string;
}

/** `POST /admin/v1/registration-tokens`. */
export interface RegistrationTokenCreateRequest {
  /** Seconds until it expires (60 s to a year); absent: one day. */
  expires_in?: number | null;
  /** RFC 7591 `grant_types` values; empty: `authorization_code` and `refresh_token`. */
  grant_types?: string[];
  /** e.g. `https://app.example/`; empty: any redirect URI the registration rules accept. */
  redirect_uri_prefixes?: string[];
  /** Empty: the built-in OIDC scopes. */
  scopes?: string[];
  /** How many clients it may register; absent: any number until it expires. */
  uses?: number | null;
}

/** The answer to making an initial access token: the token, shown this once. */
export interface RegistrationTokenCreated {
  created_at: number;
  created_by: string;
  expires_at: number;
  /** The grant types a registered client may list. */
  grant_types: string[];
  id: string;
  /** Every redirect URI must start with one of these; empty: any acceptable one. */
  redirect_uri_prefixes: string[];
  /** Clients registered with it so far. */
  registered: number;
  revoked_at?: number | null;
  /** The scopes a registered client may list. */
  scopes: string[];
  /** `lkreg_…`: the bearer token for `POST /register`. Never shown again. */
  token: string;
  /** Registrations still allowed; `null`: any number until it expires. */
  uses_left?: number | null;
}

/**
 * An initial access token (never the token itself): what clients registered with it
 * may have, and how much of it is left.
 */
export interface RegistrationTokenDto {
  created_at: number;
  created_by: string;
  expires_at: number;
  /** The grant types a registered client may list. */
  grant_types: string[];
  id: string;
  /** Every redirect URI must start with one of these; empty: any acceptable one. */
  redirect_uri_prefixes: string[];
  /** Clients registered with it so far. */
  registered: number;
  revoked_at?: number | null;
  /** The scopes a registered client may list. */
  scopes: string[];
  /** Registrations still allowed; `null`: any number until it expires. */
  uses_left?: number | null;
}

/** How a remote connection authenticates. */
export type RemoteAuth = 'api_key' | 'browser';

/** What a revoke cut off, or with `dry_run` would cut off. */
export interface RevokeImpactDto {
  dry_run: boolean;
  /**
   * Unexpired access tokens of those sessions, inactive at introspection from now
   * on (resource servers that only check signatures see them until they expire).
   */
  live_access_tokens: number;
  /** Refresh-token families that stop working. */
  refresh_families: number;
  /** Live sessions that end. */
  sessions: number;
}

/** The result of revoking one session. */
export interface RevokedDto {
  /** How many live sessions were revoked (0 when they had already ended). */
  revoked: number;
}

export interface ScopeCreateRequest {
  claims?: string[];
  description?: string;
  name?: string;
}

export interface ScopeDto {
  builtin: boolean;
  /** The user claims the scope releases (OIDC Core §5.4). */
  claims: string[];
  created_at: number;
  /** Shown on the consent page. */
  description: string;
  name: string;
}

/** `POST /admin/v1/clients/{id}/rotate_secret`. */
export interface SecretRotateRequest {
  /** Seconds the previous secrets stay valid (default 24 h). */
  overlap_secs?: number | null;
}

export interface SecretRotated {
  client_id: string;
  /** Shown once. */
  client_secret: string;
  /** Unix seconds at which the secrets valid before the rotation stop working. */
  previous_secrets_expire_at: number;
}

export interface SecurityCountDto {
  action: string;
  count: number;
}

/**
 * What a security event is: its audit action is `security.<family>`, or
 * `security.<family>.<detail>` where the detail says where or why (the endpoint that
 * was flooded, the OAuth error code of a refusal). The family is the closed part that
 * code may branch on; the detail is for people.
 */
export type SecurityFamily = 'admin_auth_failed' | 'authorization_code.reuse_detected' | 'authorize_rejected' | 'client_auth_failed' | 'consent_rejected' | 'device_code.wrong_user_code' | 'login_failed' | 'finding_raised' | 'monitor_overflow' | 'blocked' | 'rate_limited' | 'refresh_token.grace_retry' | 'refresh_token.reuse_detected' | 'token_rejected';

/**
 * What one account, address or client did lately, from the audit log, the sessions,
 * the findings and the blocks.
 */
export interface SecurityProfileDto {
  /** Blocks in force that reach this subject. */
  blocks: BlockDto[];
  distinct_addresses: number;
  distinct_users: number;
  /** Failed sign-ins and failed client authentications. */
  failures: number;
  findings: FindingDto[];
  first_seen?: number | null;
  kind: string;
  last_seen?: number | null;
  since: number;
  /** Canonical: an address is shown as its network (`a.b.c.d/32`). */
  subject: string;
  /** Sessions opened. */
  successes: number;
  /** Newest first, at most 200. */
  timeline: ProfileEntryDto[];
  /** A source had more rows than are read: the counts are lower bounds. */
  truncated: boolean;
}

/** `GET /admin/v1/security/profile?kind=…&subject=…`: the drill-down behind a finding. */
export interface SecurityProfileQuery {
  /** `user` | `address` | `client`, as findings name their subjects. */
  kind?: string;
  /** Unix seconds; default a week ago, at most 90 days back. */
  since?: number | null;
  /** A username as typed, an address or network, or a client id. */
  subject?: string;
}

/** The server's answer about a token (admin introspection), as the inspector reads it. */
export interface ServerAnswer {
  active: boolean;
  /**
   * RFC 8693 lineage: the tokens this one was exchanged from, nearest first (empty for
   * a token no exchange issued).
   */
  exchanged_from?: ExchangeStep[];
  inactive_reason?: InactiveReason | null;
  /** `Bearer` (an access token) or `refresh_token`, when active. */
  token_type?: string | null;
}

export interface SessionDto {
  auth_time: number;
  client_id: string;
  client_name: string;
  created_at: number;
  expires_at: number;
  /** The `sid` of the session's tokens. */
  id: string;
  ip?: string | null;
  last_used_at: number;
  /** What a revoke would cut off. */
  live_access_tokens: number;
  live_refresh_tokens: number;
  revoked_at?: number | null;
  revoked_reason?: string | null;
  scopes: string[];
  /**
   * Its browser sign-in came from a network and browser the user had not used in
   * their recent sign-ins (detection `unfamiliar_sign_in`).
   */
  unfamiliar: boolean;
  user_agent?: string | null;
  user_id: string;
  username: string;
}

/** `GET /admin/v1/sessions?…`. Every field narrows the list. */
export interface SessionFilterDto {
  client_id?: string | null;
  /** Unix seconds: created at or after. */
  created_from?: number | null;
  /** Unix seconds: created before. */
  created_to?: number | null;
  /** `next_cursor` of the previous page. */
  cursor?: string | null;
  /** An exact address, or a prefix ending in `.`, `:` or `*` (`10.0.` matches 10.0.x.x). */
  ip?: string | null;
  /** Default 100, at most 1000. */
  limit?: number | null;
  /** `desc` (default, newest first) | `asc`. */
  order?: string | null;
  /** `created_at` (default) | `last_used_at`. */
  sort?: string | null;
  /** `active` (default) | `revoked` | `expired` | `any`. */
  state?: string | null;
  /** A user id or a username. */
  user?: string | null;
}

/** One page of sessions. */
export interface SessionPageDto {
  items: SessionDto[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  next_cursor?: string | null;
}

/**
 * `POST /admin/v1/sessions/revoke`: exactly one of `session_ids`, `user`, `client_id`
 * or `filter`. With `dry_run` nothing changes and the answer says what would be cut off.
 */
export interface SessionsRevokeRequest {
  /**
   * Every session of the client; every token issued to it before now (client
   * credentials ones included) becomes inactive.
   */
  client_id?: string | null;
  dry_run?: boolean;
  /**
   * Every live session matching the filter (its state, sort, cursor and limit are
   * ignored).
   */
  filter?: SessionFilterDto | null;
  session_ids?: string[] | null;
  /** A user id or username: every session of the user, and their sign-ins end. */
  user?: string | null;
}

/** One runtime setting. */
export interface SettingDto {
  /** The server's configured default, used whenever no administrator set a value. */
  default: number;
  /**
   * `default` (nobody set it) | `admin` (an administrator set it, perhaps to the
   * default's value).
   */
  source: string;
  /** The value in force. */
  value: number;
}

/**
 * `GET /admin/v1/settings`: token lifetimes, key rotation and brute-force limits, as
 * every server node applies them. Durations are in seconds.
 */
export interface SettingsDto {
  /** Access-token lifetime given to new clients (seconds). */
  access_token_ttl: SettingDto;
  /** First block after the client authentication limit (seconds). */
  client_auth_block: SettingDto;
  /** Failed client authentications allowed per IP within the window. */
  client_auth_max_failures: SettingDto;
  /** Window of the client authentication limit (seconds). */
  client_auth_window: SettingDto;
  /** Authorization code lifetime (seconds). */
  code_ttl: SettingDto;
  /** Previous days the `wave` and `mint_spike` baselines read. */
  detect_baseline_days: SettingDto;
  /** How long an enforce-mode block lasts (seconds). */
  detect_block: SettingDto;
  /** Consecutive failed sign-ins of one account from one address that raise `brute_force`. */
  detect_brute_force_failures: SettingDto;
  /** Detection `brute_force` (one account from one address): 0 off, 1 monitor, 2 enforce. */
  detect_brute_force_mode: SettingDto;
  /** Severity of `brute_force`: 1 low, 2 medium, 3 high, 4 critical. */
  detect_brute_force_severity: SettingDto;
  /** Window of `brute_force` (seconds). */
  detect_brute_force_window: SettingDto;
  /** Distinct client ids one address fails for that raise `client_guess`. */
  detect_client_guess_clients: SettingDto;
  /** Failed client authentications of one client id that raise `client_guess`. */
  detect_client_guess_failures: SettingDto;
  /** Detection `client_guess` (client secret guessing): 0 off, 1 monitor, 2 enforce. */
  detect_client_guess_mode: SettingDto;
  /** Severity of `client_guess`: 1 low, 2 medium, 3 high, 4 critical. */
  detect_client_guess_severity: SettingDto;
  /** Window of `client_guess` (seconds). */
  detect_client_guess_window: SettingDto;
  /** Detection `hygiene` (daily: old client secrets, overdue key rotation, keys past their schedule): 0 off, 1 monitor, 2 enforce (alerts only either way). */
  detect_hygiene_mode: SettingDto;
  /** Age past which a client secret is reported (seconds). */
  detect_hygiene_secret_age: SettingDto;
  /** Severity of `hygiene`: 1 low, 2 medium, 3 high, 4 critical. */
  detect_hygiene_severity: SettingDto;
  /** How many times the client's busiest minute of the baseline days its last minute must exceed. */
  detect_mint_factor: SettingDto;
  /** Tokens in one minute below which `mint_spike` never fires for a client. */
  detect_mint_min_per_minute: SettingDto;
  /** Detection `mint_spike` (a client's tokens per minute far above its own baseline, or a grant type or scope it never used): 0 off, 1 monitor, 2 enforce (alerts only either way). */
  detect_mint_mode: SettingDto;
  /** Severity of `mint_spike`: 1 low, 2 medium, 3 high, 4 critical. */
  detect_mint_severity: SettingDto;
  /** Detection `refresh_reuse` (a spent refresh token replayed): 0 off, 1 monitor, 2 enforce (likely theft revokes every session of the user). */
  detect_refresh_reuse_mode: SettingDto;
  /** Severity of `refresh_reuse`; a replay tagged likely theft is one step higher. */
  detect_refresh_reuse_severity: SettingDto;
  /** Detection `spray` (many accounts from one address or IPv6 /64): 0 off, 1 monitor, 2 enforce. */
  detect_spray_mode: SettingDto;
  /** Severity of `spray`: 1 low, 2 medium, 3 high, 4 critical. */
  detect_spray_severity: SettingDto;
  /** Distinct usernames failing from one address or /64 that raise `spray`. */
  detect_spray_usernames: SettingDto;
  /** Window of `spray` (seconds); a success from the address within it after the finding is `spray_success` (critical). */
  detect_spray_window: SettingDto;
  /** Detections `revoked_token_replay` and `token_scan` (introspection and userinfo): 0 off, 1 monitor, 2 enforce (a scanning caller is blocked there). */
  detect_token_replay_mode: SettingDto;
  /** Severity of `revoked_token_replay` and `token_scan`: 1 low, 2 medium, 3 high, 4 critical. */
  detect_token_replay_severity: SettingDto;
  /** Unknown or invalid tokens one caller presents within the window that raise `token_scan`. */
  detect_token_scan_invalid: SettingDto;
  /** Window of `token_scan` (seconds). */
  detect_token_scan_window: SettingDto;
  /** How many of the user's latest successful sign-ins count as familiar. */
  detect_unfamiliar_history: SettingDto;
  /** Successful sign-ins a user needs before any can be unfamiliar. */
  detect_unfamiliar_min_history: SettingDto;
  /** Detection `unfamiliar_sign_in`: 0 off, 1 monitor, 2 enforce (a browser sign-in presented from an unfamiliar network and browser asks for the password again). */
  detect_unfamiliar_mode: SettingDto;
  /** Severity of `unfamiliar_sign_in`: 1 low, 2 medium, 3 high, 4 critical. */
  detect_unfamiliar_severity: SettingDto;
  /** How many times the baseline (median of the same hour on the previous days) the last hour must exceed. */
  detect_wave_factor: SettingDto;
  /** Failed sign-ins in the last hour below which `wave` never fires. */
  detect_wave_min_failures: SettingDto;
  /** Detection `wave` (server-wide failed sign-ins far above the hour's baseline): 0 off, 1 monitor, 2 enforce (alerts only either way). */
  detect_wave_mode: SettingDto;
  /** Severity of `wave`: 1 low, 2 medium, 3 high, 4 critical. */
  detect_wave_severity: SettingDto;
  /** First block after the device code limit (seconds). */
  device_code_block: SettingDto;
  /** Wrong user codes allowed per IP or browser within the window. */
  device_code_max_failures: SettingDto;
  /** Device code lifetime (seconds). */
  device_code_ttl: SettingDto;
  /** Window of the device code limit (seconds). */
  device_code_window: SettingDto;
  /** ID token lifetime (seconds). */
  id_token_ttl: SettingDto;
  /** First block after the password limit (seconds; doubles on each further block). */
  login_block: SettingDto;
  /** Wrong passwords allowed per IP or account within the window. */
  login_max_failures: SettingDto;
  /** Window of the password limit (seconds). */
  login_window: SettingDto;
  /** Seconds a successor is published before it signs (≥ the JWKS max-age). */
  prepublish: SettingDto;
  /** Refresh-token idle lifetime given to new clients (seconds). */
  refresh_idle_ttl: SettingDto;
  /** Absolute refresh-token lifetime given to new clients (seconds). */
  refresh_token_ttl: SettingDto;
  /** How long audit events and issuance counts are kept (seconds). */
  retain_audit: SettingDto;
  /** How long a session is kept after it was revoked or expired (seconds). */
  retain_sessions: SettingDto;
  /** How long a browser sign-in is kept after it ended or expired (seconds). */
  retain_signins: SettingDto;
  /** Seconds a key stays published after it stops signing. */
  retire_after: SettingDto;
  /** Seconds a key signs before the scheduled rotation replaces it. */
  rotate_every: SettingDto;
  /** Browser sign-in (SSO cookie) lifetime (seconds). */
  sign_in_ttl: SettingDto;
  /** Unix seconds of the last change; absent while every setting is the default. */
  updated_at?: number | null;
}

/**
 * `PATCH /admin/v1/settings`: a number sets a setting, `null` returns it to the
 * server's default, an absent field leaves it as it is. Unknown fields are refused.
 */
export interface SettingsUpdateRequest {
  access_token_ttl?: number | null;
  client_auth_block?: number | null;
  client_auth_max_failures?: number | null;
  client_auth_window?: number | null;
  code_ttl?: number | null;
  detect_baseline_days?: number | null;
  detect_block?: number | null;
  detect_brute_force_failures?: number | null;
  detect_brute_force_mode?: number | null;
  detect_brute_force_severity?: number | null;
  detect_brute_force_window?: number | null;
  detect_client_guess_clients?: number | null;
  detect_client_guess_failures?: number | null;
  detect_client_guess_mode?: number | null;
  detect_client_guess_severity?: number | null;
  detect_client_guess_window?: number | null;
  detect_hygiene_mode?: number | null;
  detect_hygiene_secret_age?: number | null;
  detect_hygiene_severity?: number | null;
  detect_mint_factor?: number | null;
  detect_mint_min_per_minute?: number | null;
  detect_mint_mode?: number | null;
  detect_mint_severity?: number | null;
  detect_refresh_reuse_mode?: number | null;
  detect_refresh_reuse_severity?: number | null;
  detect_spray_mode?: number | null;
  detect_spray_severity?: number | null;
  detect_spray_usernames?: number | null;
  detect_spray_window?: number | null;
  detect_token_replay_mode?: number | null;
  detect_token_replay_severity?: number | null;
  detect_token_scan_invalid?: number | null;
  detect_token_scan_window?: number | null;
  detect_unfamiliar_history?: number | null;
  detect_unfamiliar_min_history?: number | null;
  detect_unfamiliar_mode?: number | null;
  detect_unfamiliar_severity?: number | null;
  detect_wave_factor?: number | null;
  detect_wave_min_failures?: number | null;
  detect_wave_mode?: number | null;
  detect_wave_severity?: number | null;
  device_code_block?: number | null;
  device_code_max_failures?: number | null;
  device_code_ttl?: number | null;
  device_code_window?: number | null;
  id_token_ttl?: number | null;
  login_block?: number | null;
  login_max_failures?: number | null;
  login_window?: number | null;
  prepublish?: number | null;
  refresh_idle_ttl?: number | null;
  refresh_token_ttl?: number | null;
  retain_audit?: number | null;
  retain_sessions?: number | null;
  retain_signins?: number | null;
  retire_after?: number | null;
  rotate_every?: number | null;
  sign_in_ttl?: number | null;
}

export interface StatsDto {
  active_sessions: number;
  clients: number;
  /** Failed client authentications and sign-ins in the window. */
  failed_authentications: number;
  /** Every security event in the window, per action. */
  security_events: SecurityCountDto[];
  /** Tokens issued per minute by grant and client (minutes with none are absent). */
  tokens_per_minute: TokenCountDto[];
  users: number;
  window_minutes: number;
}

/** `GET /admin/v1/stats?minutes=N`. */
export interface StatsRequest {
  /** The window, 1 to 1440 minutes (default 60). */
  minutes?: number | null;
}

export interface TokenCountDto {
  client_id: string;
  count: number;
  grant_type: string;
  /** Start of the minute, Unix seconds. */
  minute: number;
}

/** What was inspected: a JWT taken apart, or an opaque token (nothing to read in it). */
export type TokenForm = 'jwt' | 'opaque';

/** `POST /admin/v1/tokens/introspect` and `/admin/v1/tokens/revoke`. */
export interface TokenRequest {
  token?: string;
}

/** The flows "Try it" runs. */
export type TryGrant = 'client_credentials' | 'authorization_code' | 'token_exchange';

export interface UserCreateRequest {
  email?: string | null;
  is_admin?: boolean;
  name?: string | null;
  password?: string;
  username?: string;
}

export interface UserDto {
  created_at: number;
  disabled: boolean;
  email?: string | null;
  email_verified: boolean;
  id: string;
  is_admin: boolean;
  /**
   * The last browser sign-in on record (in the user list only; sign-ins past the
   * retention window are gone).
   */
  last_sign_in_at?: number | null;
  /** Live sessions now (in the user list only). */
  live_sessions?: number | null;
  /** The next sign-in asks for a new password before it counts. */
  must_change_password?: boolean;
  name?: string | null;
  password_changed_at: number;
  username: string;
}

/**
 * `GET /admin/v1/users/{id}/impact`: what deleting the user would cut off, counted when
 * asked (the dry run the console shows before a delete).
 */
export interface UserImpactDto {
  /** The last enabled administrator: the delete would be refused. */
  last_admin: boolean;
  last_sign_in_at?: number | null;
  /** Unexpired access tokens issued under those sessions, inactive from then on. */
  live_access_tokens: number;
  /** Refresh-token families that would stop working. */
  refresh_families: number;
  /** Live sessions that would end. */
  sessions: number;
  user: UserDto;
}

/**
 * The user after a password change, and the generated password (shown once; only its
 * hash is stored) when none was given.
 */
export interface UserPasswordSet {
  password?: string | null;
  user: UserDto;
}

/**
 * `POST /admin/v1/users/{id}/password`: the password to set, or none to have one
 * generated and returned once.
 */
export interface UserPasswordSetRequest {
  /** The user must choose a new password at their next sign-in, before it counts. */
  must_change_password?: boolean;
  password?: string | null;
}

/** `PATCH /admin/v1/users/{id}`: absent fields stay; an empty name or email clears it. */
export interface UserUpdateRequest {
  email?: string | null;
  /** The last enabled administrator cannot lose the role. */
  is_admin?: boolean | null;
  name?: string | null;
}

/** `POST /admin/v1/webhooks`. */
export interface WebhookCreateRequest {
  /** Absent: enabled. */
  enabled?: boolean | null;
  name?: string;
  /** Rule ids (`brute_force`, `spray`, …); empty or absent: every rule. */
  rules?: string[];
  /** `low` | `medium` | `high` | `critical`; empty or absent: every severity. */
  severities?: string[];
  url?: string;
}

/** The answer to registering a webhook: its signing secret, shown this once. */
export interface WebhookCreated {
  /** Failed attempts since the last success. */
  consecutive_failures: number;
  created_at: number;
  created_by: string;
  enabled: boolean;
  id: string;
  last_failure_at?: number | null;
  /** Why the last attempt failed (the endpoint's status, or the connection error). */
  last_failure_reason?: string | null;
  last_success_at?: number | null;
  name: string;
  /** Deliveries waiting (a failing endpoint holds its queue, in order). */
  pending: number;
  /** The rule ids it is sent; empty: every rule. */
  rules: string[];
  /**
   * `whsec_…`: the HMAC key of the `webhook-signature` header (Standard Webhooks).
   * Never shown again.
   */
  secret: string;
  /** The severities it is sent; empty: every severity. */
  severities: string[];
  updated_at: number;
  /** `https://…` (`http://` only to loopback on a development server). */
  url: string;
}

/** An endpoint told of findings, with the state of its deliveries (never its secret). */
export interface WebhookDto {
  /** Failed attempts since the last success. */
  consecutive_failures: number;
  created_at: number;
  created_by: string;
  enabled: boolean;
  id: string;
  last_failure_at?: number | null;
  /** Why the last attempt failed (the endpoint's status, or the connection error). */
  last_failure_reason?: string | null;
  last_success_at?: number | null;
  name: string;
  /** Deliveries waiting (a failing endpoint holds its queue, in order). */
  pending: number;
  /** The rule ids it is sent; empty: every rule. */
  rules: string[];
  /** The severities it is sent; empty: every severity. */
  severities: string[];
  updated_at: number;
  /** `https://…` (`http://` only to loopback on a development server). */
  url: string;
}

/** What a signed test event met at the endpoint. */
export interface WebhookTestDto {
  /** The endpoint answered 2xx. */
  delivered: boolean;
  /** Why it was not delivered. */
  error?: string | null;
  /** Its status, when it answered. */
  status?: number | null;
}

/** `PATCH /admin/v1/webhooks/{id}`: each present field replaces the webhook's. */
export interface WebhookUpdateRequest {
  enabled?: boolean | null;
  name?: string | null;
  rules?: string[] | null;
  severities?: string[] | null;
  url?: string | null;
}

/** Which live event each audit action is (`AuditAction::event_kind`). */
export const AUDIT_ACTION_EVENT_KINDS: Record<AuditAction, EventKind> = {
  'client.create': 'client_changed',
  'client.update': 'client_changed',
  'client.delete': 'client_changed',
  'client.rotate_secret': 'client_changed',
  'client.enable': 'client_changed',
  'client.disable': 'client_changed',
  'client.clone': 'client_changed',
  'scope.create': 'changed',
  'scope.delete': 'changed',
  'scope.update': 'changed',
  'user.create': 'changed',
  'user.disable': 'session_revoked',
  'user.enable': 'changed',
  'user.set_password': 'changed',
  'user.update': 'changed',
  'user.delete': 'changed',
  'key.schedule': 'key_rotated',
  'key.rotate': 'key_rotated',
  'key.revoke': 'key_revoked',
  'session.create': 'session_created',
  'session.revoke': 'session_revoked',
  'session.revoke_user': 'session_revoked',
  'session.revoke_client': 'session_revoked',
  'session.revoke_selected': 'session_revoked',
  'session.revoke_filter': 'session_revoked',
  'token.revoke': 'session_revoked',
  'api_key.create': 'changed',
  'api_key.revoke': 'changed',
  'settings.update': 'changed',
  'exchange_policy.create': 'changed',
  'exchange_policy.update': 'changed',
  'exchange_policy.delete': 'changed',
  'token.exchange': 'changed',
  'token.exchange_refused': 'changed',
  'finding.ack': 'changed',
  'block.add': 'changed',
  'block.remove': 'changed',
  'webhook.create': 'changed',
  'webhook.update': 'changed',
  'webhook.delete': 'changed',
  'webhook.test': 'changed',
  'registration_token.create': 'changed',
  'registration_token.revoke': 'changed',
  'client.register': 'client_changed',
  'config.apply': 'changed',
};
