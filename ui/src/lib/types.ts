// The IPC types. Every DTO comes from `api/types.gen.ts`, generated from the Rust types
// in crates/latchkey-api-types (a test fails when it drifts). The two below belong to
// the desktop shell itself (src-tauri's ConsoleStatus, latchkey-core's Inspection);
// they are checked against the Rust side by src-tauri's IPC tests.
export type * from './api/types.gen';
import type { ApiErrorDto } from './api/types.gen';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

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

/** RFC 7662 introspection answer: `active`, and the token's claims when active. */
export type Introspection = { active: boolean } & Record<string, JsonValue>;
