// Before → after for the audit log: the top-level fields that changed.
import type { JsonValue } from './types';

export interface Change { field: string; before: string; after: string; kind: 'added' | 'removed' | 'changed' }

import { exactSpan, zonedTime } from './format';

const text = (v: JsonValue | undefined): string => (v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));

// Fields whose numbers are instants or durations: shown as a person reads them, the raw
// number after it.
const INSTANT = /(^at$|_at$|^expires$|_after$|^since$|^until$)/;
const DURATION = /(ttl|_secs$|_window$|_block$|^rotate_every$|^prepublish$|^retire_after$|^window$|^overlap$)/;

/** A value as a person reads it: dates for instants, "10 min" for durations. */
export function human(field: string, v: JsonValue | undefined): string {
  if (typeof v === 'number' && Number.isFinite(v)) {
    if (INSTANT.test(field) && v > 1e9) return `${zonedTime(v)} (${v})`;
    if (DURATION.test(field) && v >= 0) return `${exactSpan(v)} (${v} s)`;
  }
  if (v === null) return 'none';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return text(v);
}

export function diff(before: JsonValue | null, after: JsonValue | null): Change[] {
  const isObj = (v: JsonValue | null): v is { [k: string]: JsonValue } => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObj(before) || !isObj(after)) {
    if (text(before ?? undefined) === text(after ?? undefined)) return [];
    return [{
      field: '(value)', before: text(before ?? undefined), after: text(after ?? undefined),
      kind: before == null ? 'added' : after == null ? 'removed' : 'changed',
    }];
  }
  const fields = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const out: Change[] = [];
  for (const f of fields) {
    if (text(before[f]) === text(after[f])) continue;
    const b = f in before ? human(f, before[f]) : '', a = f in after ? human(f, after[f]) : '';
    out.push({ field: f, before: b, after: a, kind: !(f in before) ? 'added' : !(f in after) ? 'removed' : 'changed' });
  }
  return out;
}
