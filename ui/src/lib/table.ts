// The console's one table: column definitions and the sort order, shared by every page.
// Sorting runs on TanStack Table's sorted row model (components/DataTable.svelte); this
// file only says what a column is and how two cell values compare.

export type SortValue = string | number | boolean | null | undefined;

export interface Column<T> {
  /** Stable id: the key of the sort state and what the cell snippet switches on. */
  id: string;
  /** Header text; also the accessible name of the column and of its sort button. */
  header: string;
  /** Header text for screen readers only (an actions column). */
  hideHeader?: boolean;
  /** The value the column sorts by; a column without one cannot be sorted. */
  sort?: (row: T) => SortValue;
  /** The page renders extra header content for this column (e.g. a select-all box). */
  customHeader?: boolean;
  /** CSS width of the column (fixed-layout tables: the virtualised ones). */
  width?: string;
  /** Class on each cell of the column. */
  class?: string;
}

export type SortDir = 'asc' | 'desc';
export interface SortState {
  id: string;
  dir: SortDir;
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** Ascending order of two cell values: numbers by value, text as people read it
 * (case-insensitive, "key 2" before "key 10"), empty values last in either direction
 * (the caller keeps them last; see `sortUndefined` in DataTable). */
export function compareValues(a: SortValue, b: SortValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return collator.compare(String(a), String(b));
}

/** The next state of a header click: ascending, then descending, then unsorted. */
export function nextSort(cur: SortState | null, id: string): SortState | null {
  if (!cur || cur.id !== id) return { id, dir: 'asc' };
  return cur.dir === 'asc' ? { id, dir: 'desc' } : null;
}

export function ariaSort(cur: SortState | null, id: string): 'ascending' | 'descending' | 'none' {
  if (!cur || cur.id !== id) return 'none';
  return cur.dir === 'asc' ? 'ascending' : 'descending';
}
