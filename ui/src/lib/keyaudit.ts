// Signing-key events in the audit log, read as a person would (issue 12): one row for
// one rotation, and each key's state before → after instead of the recorded JSON.
//
// The core writes one `key.rotate` event per step it applies (per algorithm: the swap,
// then the successor it publishes; key_lifecycle.rs `apply_key_plan`), so "Rotate all
// now" leaves six or more events with the same actor within a second. The log keeps
// them apart (each step is its own transaction); the console shows them together.
import type { AuditEventDto, JsonValue } from './types';
import type { Change } from './diff';
import { shortId } from './format';

/** An audit row: one event, or the steps of one rotation (`parts`, newest first). */
export type AuditRow = AuditEventDto & { parts?: AuditEventDto[] };

/** Steps further apart than this are separate rotations. */
const SAME_ROTATION_SECS = 5;

/** Folds consecutive `key.rotate` events of one actor, seconds apart, into one row. */
export function groupRotations(events: AuditEventDto[]): AuditRow[] {
  const out: AuditRow[] = [];
  for (const e of events) {
    const last = out[out.length - 1];
    const lastPart = last?.parts ? last.parts[last.parts.length - 1] : last;
    if (e.action === 'key.rotate' && last?.action === 'key.rotate' && last.actor === e.actor
      && Math.abs(lastPart.at - e.at) <= SAME_ROTATION_SECS) {
      const parts = [...(last.parts ?? [last]), e];
      out[out.length - 1] = { ...parts[0], target: algsOf(parts), parts };
    } else {
      out.push(e);
    }
  }
  return out;
}

/** The algorithms a rotation touched, in a stable order. */
function algsOf(parts: AuditEventDto[]): string {
  return [...new Set(parts.map((p) => p.target).filter((t): t is string => !!t))].sort().join(', ');
}

type Obj = { [k: string]: JsonValue };
const isObj = (v: JsonValue | null | undefined): v is Obj => v != null && typeof v === 'object' && !Array.isArray(v);
const str = (v: JsonValue | undefined): string | null => (typeof v === 'string' ? v : null);

/** Whether `ev` is a key event the console reads key by key. */
export function isKeyEvent(ev: AuditEventDto): boolean {
  return ev.action.startsWith('key.') && isObj(ev.after as JsonValue) && Array.isArray((ev.after as Obj).changes);
}

/** What a key event did to each key: its state before → after; a new key as published. */
function keyChangesOne(ev: AuditEventDto): Change[] {
  const after = ev.after as Obj;
  const before = (Array.isArray(ev.before) ? ev.before : isObj(ev.before as JsonValue) ? [ev.before] : []) as JsonValue[];
  const was = new Map<string, Obj>();
  for (const b of before) if (isObj(b) && str(b.kid)) was.set(str(b.kid)!, b);
  // A rotation's target is its algorithm; an emergency revoke's is the key, whose
  // summary (before) names the algorithm of every key the revoke touched.
  const evAlg = before.map((b) => (isObj(b) ? str(b.alg) : null)).find((a) => !!a) ?? ev.target ?? '';
  const out: Change[] = [];
  for (const c of after.changes as JsonValue[]) {
    if (!isObj(c) || !str(c.kid)) continue;
    const kid = str(c.kid)!;
    const prev = was.get(kid);
    const alg = str(prev?.alg) ?? evAlg;
    out.push({ field: `${alg} ${shortId(kid)}`.trim(), before: str(prev?.state) ?? '', after: str(c.state) ?? '', kind: 'changed' });
  }
  if (isObj(after.new_key)) {
    const k = after.new_key;
    out.push({ field: `${str(k.alg) ?? evAlg} ${shortId(str(k.kid) ?? '')}`.trim(), before: 'not published', after: `${str(k.state) ?? ''} (new key)`, kind: 'added' });
  }
  return out;
}

/** The key changes of a row, oldest step first (the order they happened in). */
export function keyChanges(row: AuditRow): Change[] {
  return [...(row.parts ?? [row])].reverse().filter(isKeyEvent).flatMap(keyChangesOne);
}
