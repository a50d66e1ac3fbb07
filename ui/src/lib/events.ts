// Live admin events, fanned out to whichever pages are listening. The App subscribes
// once (AdminApi.eventsSubscribe); pages call `onAdminEvent` in an $effect.
// An event's `kind` is the generated `EventKind` union (decided in Rust by
// `AuditAction::event_kind`), so a page comparing it with a kind that does not exist
// fails `npm run check`.
import type { AdminEventDto, AuditAction, EventKind } from './types';
import { AUDIT_ACTION_EVENT_KINDS } from './api/types.gen';

type Listener = (e: AdminEventDto) => void;
const listeners = new Set<Listener>();

/**
 * What each kind means, for people. Typed as a record over the union: when the Rust
 * enum gains or loses a kind, this stops compiling until it is updated.
 */
export const EVENT_KIND_LABELS: Record<EventKind, string> = {
  session_created: 'Session created',
  session_revoked: 'Session revoked',
  key_rotated: 'Signing keys changed',
  key_revoked: 'Signing key revoked',
  client_changed: 'Client changed',
  security_event: 'Security event',
  changed: 'Changed',
};

export function emitAdminEvent(e: AdminEventDto): void {
  for (const l of listeners) l(e);
}

/** Listens until the returned function is called. */
export function onAdminEvent(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

/** Listens to events of the given kinds only, until the returned function is called. */
export function onAdminEventOf(kinds: readonly EventKind[], l: Listener): () => void {
  return onAdminEvent((e) => {
    if (kinds.includes(e.kind)) l(e);
  });
}

/**
 * The live-event kind of a stored audit event (what `EventKind::of` decides in Rust):
 * security events by their flag, others by the generated action table; an action this
 * console does not know is a plain change.
 */
export function eventKindOf(action: string, security: boolean): EventKind {
  if (security) return 'security_event';
  return Object.hasOwn(AUDIT_ACTION_EVENT_KINDS, action)
    ? AUDIT_ACTION_EVENT_KINDS[action as AuditAction]
    : 'changed';
}
