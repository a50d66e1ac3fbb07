// Before → after for the audit log: the top-level fields that changed.
import type { JsonValue } from './types';

export interface Change { field: string; before: string; after: string; kind: 'added' | 'removed' | 'changed' }

const text = (v: JsonValue | undefined): string => (v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));

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
    const b = text(before[f]), a = text(after[f]);
    if (b === a) continue;
    out.push({ field: f, before: b, after: a, kind: !(f in before) ? 'added' : !(f in after) ? 'removed' : 'changed' });
  }
  return out;
}
