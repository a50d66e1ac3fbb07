// Typeahead filters (issue 12 §4): what a person typed into a "User" or "Client" filter,
// resolved against the names, emails and ids the console knows. A filter either picks
// one object, or says why it cannot (several match, or none) — it never falls back to
// the unfiltered list, so "Select all" can never silently mean everyone.

export interface Candidate {
  /** What the server filters by (a user id, a client id). */
  id: string;
  /** What the person sees first (a username, a client name). */
  label: string;
  /** Seen after it (a name and email, a client id). */
  detail: string;
  /** Everything that may be typed to find it, in any case. */
  keys: string[];
  /** What picking it puts in the filter: a key that names it alone. */
  value: string;
}

export type Resolution =
  | { kind: 'all' }
  | { kind: 'one'; pick: Candidate }
  | { kind: 'many'; matches: Candidate[] }
  | { kind: 'none'; suggestions: Candidate[] };

/** How many matches or suggestions are offered at once. */
export const SHOWN = 8;

/** Levenshtein distance, capped: only near misses matter for a suggestion. */
function distance(a: string, b: string, cap = 4): number {
  if (Math.abs(a.length - b.length) > cap) return cap + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      best = Math.min(best, cur[j]);
    }
    if (best > cap) return cap + 1;
    prev = cur;
  }
  return prev[b.length];
}

/** Exact key (any case) → that one; else a unique partial match → that one; several →
 * the choice; none → near misses to suggest. */
export function resolve(typed: string, candidates: Candidate[]): Resolution {
  const q = typed.trim().toLowerCase();
  if (!q) return { kind: 'all' };
  const exact = candidates.filter((c) => c.keys.some((k) => k.toLowerCase() === q));
  if (exact.length === 1) return { kind: 'one', pick: exact[0] };
  if (exact.length > 1) return { kind: 'many', matches: exact.slice(0, SHOWN) };
  const partial = candidates.filter((c) => c.keys.some((k) => k.toLowerCase().includes(q)));
  if (partial.length === 1) return { kind: 'one', pick: partial[0] };
  if (partial.length > 1) {
    // Names that start with what was typed first.
    const starts = (c: Candidate) => (c.keys.some((k) => k.toLowerCase().startsWith(q)) ? 0 : 1);
    return { kind: 'many', matches: [...partial].sort((a, b) => starts(a) - starts(b) || a.label.localeCompare(b.label)).slice(0, SHOWN) };
  }
  const near = candidates
    .map((c) => ({ c, d: Math.min(...c.keys.map((k) => distance(q, k.toLowerCase()))) }))
    // One slip in a short name, two (a swapped pair of letters) in a longer one.
    .filter((x) => x.d <= (q.length <= 3 ? 1 : 2))
    .sort((a, b) => a.d - b.d || a.c.label.localeCompare(b.c.label))
    .slice(0, 3)
    .map((x) => x.c);
  return { kind: 'none', suggestions: near };
}

export function userCandidates(users: { id: string; username: string; name?: string | null; email?: string | null }[]): Candidate[] {
  return users.map((u) => ({
    id: u.id,
    label: u.username,
    detail: [u.name, u.email].filter(Boolean).join(' · '),
    keys: [u.username, u.id, u.name ?? '', u.email ?? ''].filter(Boolean),
    value: u.username,
  }));
}

export function clientCandidates(clients: { client_id: string; name: string }[]): Candidate[] {
  // Two clients may share a name; the id names one alone.
  return clients.map((c) => ({ id: c.client_id, label: c.name, detail: c.client_id, keys: [c.name, c.client_id], value: c.client_id }));
}
