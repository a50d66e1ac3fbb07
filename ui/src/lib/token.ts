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
