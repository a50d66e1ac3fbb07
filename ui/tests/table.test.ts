import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import TableHarness from './fixtures/TableHarness.svelte';
import { compareValues, nextSort } from '../src/lib/table';

type Person = { id: string; name: string; age: number | null };
let mounted: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
});

function render(props: { rows: Person[]; virtual?: boolean | 'auto'; opened?: string[]; selected?: string[] }) {
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted = mount(TableHarness, { target, props });
  flushSync();
  return target;
}

const people: Person[] = [
  { id: 'p1', name: 'carol', age: 41 },
  { id: 'p2', name: 'Alice', age: 9 },
  { id: 'p3', name: 'bob', age: null },
  { id: 'p4', name: 'Dave', age: 100 },
];
const order = (t: HTMLElement) => [...t.querySelectorAll<HTMLElement>('[data-testid=person-row]')].map((r) => r.dataset.id);
const header = (t: HTMLElement, name: string) => [...t.querySelectorAll<HTMLElement>('th')].find((th) => th.textContent?.includes(name))!;
function key(el: Element, k: string) {
  el.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true }));
  flushSync();
}

describe('the table', () => {
  it('sorts by a column on click: ascending, then descending, then as given, and says so in aria-sort', () => {
    const t = render({ rows: people });
    expect(order(t)).toEqual(['p1', 'p2', 'p3', 'p4']);
    const name = header(t, 'Name');
    expect(name.getAttribute('aria-sort')).toBe('none');
    name.querySelector('button')!.click();
    flushSync();
    expect(order(t)).toEqual(['p2', 'p3', 'p1', 'p4']);
    expect(name.getAttribute('aria-sort')).toBe('ascending');
    name.querySelector('button')!.click();
    flushSync();
    expect(order(t)).toEqual(['p4', 'p1', 'p3', 'p2']);
    expect(name.getAttribute('aria-sort')).toBe('descending');
    name.querySelector('button')!.click();
    flushSync();
    expect(order(t)).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(name.getAttribute('aria-sort')).toBe('none');
  });

  it('sorts numbers by value and keeps empty values last in both directions', () => {
    const t = render({ rows: people });
    const age = header(t, 'Age').querySelector('button')!;
    age.click();
    flushSync();
    expect(order(t)).toEqual(['p2', 'p1', 'p4', 'p3']);
    age.click();
    flushSync();
    expect(order(t)).toEqual(['p4', 'p1', 'p2', 'p3']);
  });

  it('sorts from the keyboard with Enter and Space on the header button, once per key press', () => {
    const t = render({ rows: people });
    const th = header(t, 'Name');
    const button = th.querySelector('button')!;
    expect(button.getAttribute('type')).toBe('button');
    expect(button.textContent).toContain('Name');
    key(button, 'Enter');
    expect(th.getAttribute('aria-sort')).toBe('ascending');
    key(button, ' ');
    expect(th.getAttribute('aria-sort')).toBe('descending');
    expect(order(t)).toEqual(['p4', 'p1', 'p3', 'p2']);
  });

  it('gives the table, every sort button and every row button an accessible name', () => {
    const t = render({ rows: people });
    const table = t.querySelector('table')!;
    expect(table.getAttribute('role')).toBe('grid');
    expect(table.getAttribute('aria-label')).toBe('People');
    expect(document.getElementById(table.getAttribute('aria-describedby')!)?.textContent).toContain('Arrow keys');
    for (const b of t.querySelectorAll('button')) expect((b.getAttribute('aria-label') ?? b.textContent)?.trim()).not.toBe('');
    // The actions column has a header for screen readers even though it shows none.
    expect(header(t, 'Actions').querySelector('.sr-only')).toBeTruthy();
    // A column without a sort value offers no sort button and no aria-sort.
    expect(header(t, 'Actions').querySelector('button')).toBeNull();
    expect(header(t, 'Actions').hasAttribute('aria-sort')).toBe(false);
  });

  it('moves the current row with the arrow keys, Home and End, and opens it with Enter', () => {
    const opened: string[] = [];
    const selected: string[] = [];
    const t = render({ rows: people, opened, selected });
    const table = t.querySelector<HTMLElement>('table')!;
    expect(table.tabIndex).toBe(0);
    const current = () => document.getElementById(table.getAttribute('aria-activedescendant')!)?.dataset.id;
    expect(current()).toBe('p1');
    key(table, 'ArrowDown');
    key(table, 'ArrowDown');
    expect(current()).toBe('p3');
    key(table, 'ArrowUp');
    expect(current()).toBe('p2');
    key(table, 'End');
    expect(current()).toBe('p4');
    key(table, 'ArrowDown');
    expect(current()).toBe('p4');
    key(table, 'Home');
    expect(current()).toBe('p1');
    key(table, 'ArrowUp');
    expect(current()).toBe('p1');
    key(table, 'ArrowDown');
    key(table, 'Enter');
    expect(opened).toEqual(['p2']);
    key(table, ' ');
    expect(selected).toEqual(['p2']);
  });

  it('leaves keys pressed on a button inside a row to that button', () => {
    const opened: string[] = [];
    const t = render({ rows: people, opened });
    key(t.querySelector('[aria-label="Open Alice"]')!, 'Enter');
    expect(opened).toEqual([]);
  });

  it('puts a window of a 100 000-row table in the DOM, not 100 000 rows, and End reaches the last row', () => {
    const rows = Array.from({ length: 100_000 }, (_, i) => ({ id: `r${i}`, name: `person ${i}`, age: i % 90 }));
    const t = render({ rows });
    const shown = t.querySelectorAll('[data-testid=person-row]').length;
    expect(shown).toBeGreaterThan(0);
    expect(shown).toBeLessThan(100);
    const table = t.querySelector<HTMLElement>('table')!;
    expect(table.getAttribute('aria-rowcount')).toBe('100001');
    // The rows shown carry their place in the whole table.
    expect(t.querySelector('[data-testid=person-row]')!.getAttribute('aria-rowindex')).toBe('2');
    // Sorting 100 000 rows still shows only a window.
    header(t, 'Name').querySelector('button')!.click();
    flushSync();
    expect(t.querySelectorAll('[data-testid=person-row]').length).toBeLessThan(100);
    expect(t.querySelector<HTMLElement>('[data-testid=person-row]')!.dataset.id).toBe('r0');
    // End moves to the last row and scrolls the window there. jsdom has no layout: the
    // scroll box gets a scroll position it can hold, as a browser's would.
    const scroller = t.querySelector<HTMLElement>('[data-testid=people-scroll]')!;
    let top = 0;
    Object.defineProperty(scroller, 'scrollTop', { get: () => top, set: (v: number) => { top = v; }, configurable: true });
    Object.defineProperty(scroller, 'clientHeight', { get: () => 480, configurable: true });
    Object.defineProperty(scroller, 'scrollHeight', { get: () => 100_001 * 30, configurable: true });
    scroller.scrollTo = ((o: ScrollToOptions) => { top = o.top ?? top; }) as typeof scroller.scrollTo;
    key(table, 'End');
    expect(top).toBeGreaterThan(99_000 * 30);
    scroller.dispatchEvent(new Event('scroll'));
    flushSync();
    const ids = order(t);
    expect(ids.length).toBeLessThan(100);
    expect(ids).toContain('r99999');
    expect(document.getElementById(table.getAttribute('aria-activedescendant')!)?.dataset.id).toBe('r99999');
  }, 60_000);

  it('renders every row of a short table and never virtualises when told not to', () => {
    const rows = Array.from({ length: 500 }, (_, i) => ({ id: `r${i}`, name: `p${i}`, age: i }));
    const t = render({ rows, virtual: false });
    expect(t.querySelectorAll('[data-testid=person-row]').length).toBe(500);
  }, 30_000);
});

describe('sort order', () => {
  it('reads text as people do: case-insensitive, numbers inside text by value', () => {
    expect(['key 10', 'Key 2', 'key 1'].sort(compareValues)).toEqual(['key 1', 'Key 2', 'key 10']);
  });
  it('cycles a column through ascending, descending and unsorted, and starts over on another column', () => {
    expect(nextSort(null, 'a')).toEqual({ id: 'a', dir: 'asc' });
    expect(nextSort({ id: 'a', dir: 'asc' }, 'a')).toEqual({ id: 'a', dir: 'desc' });
    expect(nextSort({ id: 'a', dir: 'desc' }, 'a')).toBeNull();
    expect(nextSort({ id: 'a', dir: 'desc' }, 'b')).toEqual({ id: 'b', dir: 'asc' });
  });
});
