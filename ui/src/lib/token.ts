// What people paste around a token, removed as the core's `inspect::normalise` does
// (`Authorization:`, `Bearer ` in any case, quotes, whitespace and line breaks), so the
// page can tint the token's parts as it is pasted. The verdict's `removed` list comes
// from the core; this copy only drives the display.

export function normaliseToken(input: string): string {
  let t = input.trim();
  for (;;) {
    const before = t;
    if (/^authorization:/i.test(t)) t = t.slice('authorization:'.length).trimStart();
    const b = /^bearer\s+/i.exec(t);
    if (b) t = t.slice(b[0].length);
    for (const q of ['"', "'", '`']) {
      if (t.length >= 2 && t.startsWith(q) && t.endsWith(q)) t = t.slice(1, -1).trim();
    }
    if (/[,;]$/.test(t)) t = t.slice(0, -1).trimEnd();
    if (t === before) break;
  }
  t = t.replace(/\s+/g, '');
  return /^bearer$/i.test(t) ? '' : t;
}

import type { JsonValue } from './api/types.gen';

/** A token's `aud` as a list (RFC 7519 §4.1.3: a string, or an array of them). */
export function audienceOf(aud: JsonValue | undefined): string[] {
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud)) return aud.filter((a): a is string => typeof a === 'string');
  return [];
}

export interface Actor { sub: string; client_id: string | null }

/** RFC 8693 §4.1 `act`, outermost first: the current actor, then each one before it
 *  (nested `act`). Only the first may be used for access control; the rest are a record
 *  of the call chain. Capped, so a hostile token cannot make the page loop. */
export function actChain(act: JsonValue | undefined): Actor[] {
  const out: Actor[] = [];
  let cur = act;
  while (cur && typeof cur === 'object' && !Array.isArray(cur) && out.length < 16) {
    const o = cur as Record<string, JsonValue>;
    out.push({
      sub: typeof o.sub === 'string' ? o.sub : '?',
      client_id: typeof o.client_id === 'string' ? o.client_id : null,
    });
    cur = o.act;
  }
  return out;
}
