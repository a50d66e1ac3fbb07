// The IPC types. Every one comes from `api/types.gen.ts`, generated from the Rust types
// in crates/latchkey-api-types (the shell's own and the inspector's in its `shell`
// module); a test fails when the file drifts. Only the server's RFC 7662 answer, which
// is not a Rust type, is written here.
export type * from './api/types.gen';
import type { JsonValue } from './api/types.gen';

/** RFC 7662 introspection answer: `active`, and the token's claims when active. */
export type Introspection = { active: boolean } & Record<string, JsonValue>;
