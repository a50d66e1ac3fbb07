// Live admin events, fanned out to whichever pages are listening. The App subscribes
// once (AdminApi.eventsSubscribe); pages call `onAdminEvent` in an $effect.
import type { AdminEventDto } from './types';

type Listener = (e: AdminEventDto) => void;
const listeners = new Set<Listener>();

export function emitAdminEvent(e: AdminEventDto): void {
  for (const l of listeners) l(e);
}

/** Listens until the returned function is called. */
export function onAdminEvent(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}
