import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import { action, loader } from '../src/lib/loader.svelte';
import { contextFor } from '../src/lib/context';
import { fakeApi, fakeShell, client, settle } from './fake-api';
import Clients from '../src/pages/Clients.svelte';

/** A promise the test resolves or rejects by hand. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}
const tick = async () => { for (let i = 0; i < 5; i++) await Promise.resolve(); };

describe('the loader', () => {
  it('is loading until the first answer, then holds the data', async () => {
    const d = deferred<number[]>();
    const l = loader(() => d.promise);
    expect(l.loading).toBe(true);
    expect(l.data).toBeNull();
    d.resolve([1, 2]);
    await l.load();
    expect(l.loading).toBe(false);
    expect(l.data).toEqual([1, 2]);
    expect(l.error).toBeNull();
  });

  it('reports a failed load as retryable and clears it when a retry succeeds', async () => {
    let fail = true;
    const l = loader(async () => {
      if (fail) throw { code: 'unavailable', message: 'the database is locked' };
      return 'ok';
    });
    await tick();
    expect(l.error?.code).toBe('unavailable');
    expect(l.loadFailed).toBe(true);
    expect(l.data).toBeNull();
    fail = false;
    await l.load();
    expect(l.error).toBeNull();
    expect(l.loadFailed).toBe(false);
    expect(l.data).toBe('ok');
  });

  it('is busy while an action runs, reloads after it, and keeps the data when it fails', async () => {
    let reads = 0;
    const l = loader(async () => ++reads);
    await l.load();
    const d = deferred<string>();
    const run = l.run(() => d.promise);
    expect(l.busy).toBe(true);
    d.resolve('done');
    expect(await run).toBe('done');
    expect(l.busy).toBe(false);
    expect(l.data).toBe(reads);
    const before = reads;
    expect(await l.run(() => Promise.reject({ code: 'invalid_input', message: 'too short' }))).toBeUndefined();
    expect(l.busy).toBe(false);
    expect(l.error?.code).toBe('invalid_input');
    // An action's error is not a failed load: dismissed, not retried; the data stays.
    expect(l.loadFailed).toBe(false);
    expect(l.data).toBe(before);
    l.dismiss();
    expect(l.error).toBeNull();
  });

  it('answers a burst of reloads for the same inputs with one more read after the running one, not one per call', async () => {
    const pending: ReturnType<typeof deferred<number>>[] = [];
    const l = loader(() => { const d = deferred<number>(); pending.push(d); return d.promise; }, { immediate: false });
    const first = l.load();
    for (let i = 0; i < 5; i++) void l.load();
    expect(pending.length).toBe(1);
    pending[0].resolve(1);
    await tick();
    expect(pending.length).toBe(2);
    pending[1].resolve(2);
    await first;
    expect(l.data).toBe(2);
    expect(pending.length).toBe(2);
  });

  it('abandons a load for other inputs and drops its late answer', async () => {
    let input = 'a';
    const pending = new Map<string, ReturnType<typeof deferred<string>>>();
    const l = loader(() => { const d = deferred<string>(); pending.set(input, d); return d.promise; }, { immediate: false, key: () => input });
    void l.load();
    input = 'b';
    const second = l.load();
    pending.get('b')!.resolve('for b');
    await second;
    pending.get('a')!.resolve('for a');
    await tick();
    expect(l.data).toBe('for b');
  });

  it('tells a fetch whether its inputs are new, so a paged list can show rows as they come', async () => {
    let input = 'a';
    const seen: boolean[] = [];
    const l = loader(async (ctx) => { seen.push(ctx.fresh); ctx.partial('part'); return 'all'; }, { immediate: false, key: () => input });
    await l.load();
    await l.load();
    input = 'b';
    await l.load();
    expect(seen).toEqual([true, false, true]);
    expect(l.data).toBe('all');
  });
});

describe('an action', () => {
  it('is busy while it runs and shows its error instead of throwing it', async () => {
    const a = action();
    const d = deferred<number>();
    const r = a.run(() => d.promise);
    expect(a.busy).toBe(true);
    d.reject({ code: 'invalid_request', message: 'bad' });
    expect(await r).toBeUndefined();
    expect(a.busy).toBe(false);
    expect(a.error?.code).toBe('invalid_request');
    expect(await a.run(async () => 7)).toBe(7);
    expect(a.error).toBeNull();
  });
});

describe('a page that failed to load', () => {
  let mounted: ReturnType<typeof mount> | null = null;
  afterEach(() => {
    if (mounted) unmount(mounted);
    mounted = null;
    document.body.innerHTML = '';
  });

  it('offers "Try again", and trying again shows the data', async () => {
    const { api } = fakeApi({ clients: [client({ name: 'Billing' })] });
    const real = api.clientsList;
    let fail = true;
    api.clientsList = () => (fail ? Promise.reject({ code: 'unavailable', message: 'the database is locked' }) : real());
    const target = document.createElement('div');
    document.body.appendChild(target);
    mounted = mount(Clients, { target, props: {}, context: contextFor(api, fakeShell()) });
    await settle();
    flushSync();
    expect(target.querySelector('[role=alert]')?.textContent).toContain('the database is locked');
    expect(target.querySelector('[data-testid=client-row]')).toBeNull();
    fail = false;
    target.querySelector<HTMLButtonElement>('[data-testid=retry]')!.click();
    await settle();
    flushSync();
    expect(target.querySelector('[role=alert]')).toBeNull();
    expect(target.querySelectorAll('[data-testid=client-row]').length).toBe(1);
  });
});
