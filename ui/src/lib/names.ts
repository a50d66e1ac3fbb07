// Names, not ids (issue 12): what an id in an audit event, a token claim or a session
// points to, in words, and where the console shows that object. Built from the lists
// the console already reads (users, clients, API keys); a list that fails to load
// leaves its ids as they are.
import type { AdminApi } from './api';
import type { ApiKeyDto, ClientDto, UserDto } from './types';
import type { PageId } from './context';

export type ObjectKind = 'client' | 'user' | 'session' | 'key' | 'api-key';

export interface Known {
  kind: ObjectKind;
  id: string;
  /** What a person reads: a username, a client's name. */
  name: string;
}

export interface Names {
  /** The object an id (bare, or `user:<id>`, `client:<id>`, `api-key:<id>`) names. */
  get(id: string | null | undefined): Known | null;
  /** The one object whose username, name or email (any case) is `typed`; null when none
   * or several are (an audit filter then sends what was typed, as an id). */
  named(typed: string): Known | null;
}

export function namesFrom(users: UserDto[], clients: ClientDto[], keys: ApiKeyDto[] = []): Names {
  const m = new Map<string, Known>();
  const byName = new Map<string, Known[]>();
  const call = (k: Known, ...words: (string | null | undefined)[]) => {
    for (const w of new Set(words.filter((x): x is string => !!x).map((x) => x.toLowerCase()))) byName.set(w, [...(byName.get(w) ?? []), k]);
  };
  for (const u of users) {
    const k: Known = { kind: 'user', id: u.id, name: u.username };
    m.set(u.id, k);
    m.set(`user:${u.id}`, k);
    call(k, u.username, u.name, u.email);
  }
  for (const c of clients) {
    const k: Known = { kind: 'client', id: c.client_id, name: c.name };
    m.set(c.client_id, k);
    m.set(`client:${c.client_id}`, k);
    call(k, c.name);
  }
  for (const a of keys) {
    const k: Known = { kind: 'api-key', id: a.id, name: `API key “${a.name}”` };
    m.set(a.id, k);
    m.set(`api-key:${a.id}`, k);
    call(k, a.name);
  }
  return {
    get: (id) => (id ? m.get(id) ?? null : null),
    named: (typed) => {
      const found = byName.get(typed.trim().toLowerCase()) ?? [];
      return found.length === 1 ? found[0] : null;
    },
  };
}

/** What an audit filter sends for what was typed: an id or a name of a user, client or
 * API key becomes the id the log records (`user:<id>`, `client:<id>`, `api-key:<id>` as
 * actors);
 * anything else (`local-admin`, `system`, an id the console does not know) as typed. */
export function auditId(typed: string, as: 'actor' | 'target', names: Names | null): string | null {
  const t = typed.trim();
  if (!t) return null;
  const k = names?.get(t) ?? names?.named(t) ?? null;
  if (!k || k.kind === 'session' || k.kind === 'key') return t;
  if (as === 'actor') return `${k.kind}:${k.id}`;
  return k.id;
}

/** Reads the three lists; each one that fails counts as empty. */
export async function loadNames(api: AdminApi): Promise<Names> {
  const [users, clients, keys] = await Promise.all([
    api.usersList().catch(() => [] as UserDto[]),
    api.clientsList().catch(() => [] as ClientDto[]),
    api.apiKeysList().catch(() => [] as ApiKeyDto[]),
  ]);
  return namesFrom(users, clients, keys);
}

/** What an audit event's target is, from the ids the console knows and, for ids it
 * does not (a session, a key, a deleted client), from the action's noun. */
export function targetOf(action: string, target: string | null | undefined, names: Names | null): Known | null {
  if (!target) return null;
  const known = names?.get(target) ?? null;
  // A revoke of "everything of a user / a client" names that user or client.
  if (known && known.kind !== 'api-key') return known;
  if (action === 'session.revoke_user') return { kind: 'user', id: target, name: target };
  if (action === 'session.revoke_client') return { kind: 'client', id: target, name: target };
  if (action.startsWith('session.')) return { kind: 'session', id: target, name: `session ${target}` };
  if (action.startsWith('key.')) return { kind: 'key', id: target, name: `key ${target}` };
  if (action.startsWith('client.')) return { kind: 'client', id: target, name: target };
  if (action.startsWith('user.')) return { kind: 'user', id: target, name: target };
  return known;
}

/** The page (and its argument) that shows an object: a client's own page, the users
 * filtered to one, the sessions filtered to one, the keys. API keys live in Settings. */
export function placeOf(k: Known): { page: PageId; arg?: string } {
  switch (k.kind) {
    case 'client': return { page: 'clients', arg: k.id };
    case 'user': return { page: 'users', arg: k.name };
    case 'session': return { page: 'sessions', arg: `session:${k.id}` };
    case 'key': return { page: 'keys' };
    case 'api-key': return { page: 'settings' };
  }
}
