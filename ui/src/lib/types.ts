// The IPC types. Every DTO comes from `api/types.gen.ts`, generated from the Rust types
// in crates/latchkey-api-types (a test fails when it drifts). The ones below belong to
// the desktop shell itself (src-tauri's ConsoleStatus, connections and Try it;
// latchkey-core's Inspection);
// they are checked against the Rust side by src-tauri's IPC tests.
export type * from './api/types.gen';
import type { ApiErrorDto } from './api/types.gen';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

export interface ConsoleStatus {
  state: 'starting' | 'ready' | 'failed';
  kind: 'embedded' | 'remote';
  connection_id: string;
  name: string;
  colour: string;
  db_path: string;
  server: string | null;
  issuer: string;
  port: number;
  credential_store: 'keyring' | 'memory' | null;
  error: ApiErrorDto | null;
  first_admin_pending: string | null;
  version: string;
}

/** A saved connection (src-tauri's ConnectionDto): never its credential. */
export interface ConnectionDto {
  id: string;
  name: string;
  colour: string;
  kind: 'embedded' | 'remote';
  location: string;
  issuer: string | null;
  auth: 'api_key' | 'browser' | null;
  active: boolean;
  signed_in: boolean;
}

export interface ConnectionAddRequest {
  name: string;
  colour: string;
  kind: 'embedded' | 'remote';
  db_path?: string | null;
  create?: boolean;
  server?: string | null;
  issuer?: string | null;
  auth?: 'api_key' | 'browser' | null;
  api_key?: string | null;
}

export interface ClientTryRequest {
  id: string;
  grant: 'client_credentials' | 'authorization_code';
  client_secret?: string | null;
  scope?: string | null;
}

export interface ClientTryResult {
  grant: string;
  access_token: string;
  id_token: string | null;
  expires_in: number | null;
  scope: string | null;
  refresh_token_issued: boolean;
  redirect_uri: string | null;
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

/** RFC 7662 introspection answer: `active`, and the token's claims when active. */
export type Introspection = { active: boolean } & Record<string, JsonValue>;
