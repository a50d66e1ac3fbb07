// The IPC types. DTOs of `latchkey-api-types` and the shell's own (`ConsoleStatus`,
// `Inspection`). Interim: written to match the Rust structs field for field until the
// ts-rs generator on main lands; then this file re-exports the generated bindings and
// `make test` fails on drift.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

export interface ApiErrorDto { code: string; message: string }

export interface ClientDto {
  client_id: string;
  name: string;
  client_type: string;
  auth_method: string;
  grant_types: string[];
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  allowed_scopes: string[];
  jwks: JsonValue | null;
  jwks_uri: string | null;
  access_token_ttl: number;
  refresh_token_ttl: number;
  refresh_idle_ttl: number;
  refresh_grace_secs: number;
  require_consent: boolean;
  disabled: boolean;
  tokens_valid_after: number;
  created_at: number;
  updated_at: number;
}

export interface ClientCreateRequest {
  name: string;
  client_type?: string | null;
  auth_method?: string | null;
  grant_types?: string[];
  redirect_uris?: string[];
  post_logout_redirect_uris?: string[];
  allowed_scopes?: string[];
  jwks?: JsonValue | null;
  jwks_uri?: string | null;
  access_token_ttl?: number | null;
  refresh_token_ttl?: number | null;
  refresh_idle_ttl?: number | null;
  refresh_grace_secs?: number | null;
  require_consent?: boolean | null;
}

export interface ClientUpdateRequest {
  name?: string;
  auth_method?: string;
  grant_types?: string[];
  redirect_uris?: string[];
  post_logout_redirect_uris?: string[];
  allowed_scopes?: string[];
  jwks?: JsonValue | null;
  jwks_uri?: string | null;
  access_token_ttl?: number;
  refresh_token_ttl?: number;
  refresh_idle_ttl?: number;
  refresh_grace_secs?: number;
  require_consent?: boolean;
  disabled?: boolean;
}

export type ClientCreated = ClientDto & { client_secret: string | null };

export interface SecretRotateRequest { overlap_secs?: number | null }
export interface SecretRotated { client_id: string; client_secret: string; previous_secrets_expire_at: number }
export interface ClientCloneRequest { name?: string | null }

export interface ScopeDto { name: string; description: string; claims: string[]; builtin: boolean; created_at: number }
export interface ScopeCreateRequest { name: string; description: string; claims: string[] }

export interface UserDto {
  id: string;
  username: string;
  email: string | null;
  email_verified: boolean;
  name: string | null;
  disabled: boolean;
  is_admin: boolean;
  password_changed_at: number;
  created_at: number;
}
export interface UserCreateRequest { username: string; email?: string | null; name?: string | null; password: string; is_admin: boolean }

export interface KeyDto {
  kid: string;
  alg: string;
  state: string;
  public_jwk: JsonValue;
  created_at: number;
  activated_at: number | null;
  retiring_at: number | null;
  retired_at: number | null;
  revoked_at: number | null;
}
export interface KeysRotateRequest { alg?: string | null }
export interface KeyRotatedDto { alg: string; previous_kid: string | null; active_kid: string }
export interface KeyRevokedDto { kid: string; alg: string; previous_state: string; active_kid: string | null }

export interface SessionDto {
  id: string;
  user_id: string;
  username: string;
  client_id: string;
  client_name: string;
  scopes: string[];
  auth_time: number;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  ip: string | null;
  user_agent: string | null;
  revoked_at: number | null;
  revoked_reason: string | null;
  live_access_tokens: number;
  live_refresh_tokens: number;
}
export interface SessionFilterDto { user?: string | null; client_id?: string | null; include_inactive?: boolean; limit?: number | null }
export interface RevokedDto { revoked: number }

export interface AuditEventDto {
  id: number;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  before: JsonValue | null;
  after: JsonValue | null;
  ip: string | null;
  security: boolean;
}
export interface AuditFilterDto {
  actor?: string | null;
  action_prefix?: string | null;
  target?: string | null;
  security_only?: boolean;
  since?: number | null;
  before_id?: number | null;
  limit?: number | null;
}

export interface ConsoleStatus {
  state: 'starting' | 'ready' | 'failed';
  kind: string;
  name: string;
  db_path: string;
  issuer: string;
  port: number;
  error: ApiErrorDto | null;
  first_admin_pending: string | null;
  version: string;
}

export interface InspectionCheck { name: string; ok: boolean | null; detail: string }
export interface ClaimLine { claim: string; value: JsonValue; meaning: string }
export interface Inspection {
  kind: 'jwt' | 'opaque';
  header: Record<string, JsonValue>;
  claims: Record<string, JsonValue>;
  claim_lines: ClaimLine[];
  checks: InspectionCheck[];
  verdict: string;
  valid: boolean;
}
