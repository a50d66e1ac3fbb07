import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import { contextFor } from '../src/lib/context';
import { emitAdminEvent } from '../src/lib/events';
import { debounce } from '../src/lib/debounce';
import type { AdminEventDto } from '../src/lib/types';
import { fakeApi, fakeShell } from './fake-api';
import Dashboard from '../src/pages/Dashboard.svelte';

let mounted: ReturnType<typeof mount> | null = null;
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
  vi.useRealTimers();
});

const event = { kind: 'client_changed' } as unknown as AdminEventDto;

describe('the Dashboard', () => {
  it('re-reads once after a burst of admin events, not once per event', async () => {
    const { api, calls } = fakeApi();
    const target = document.createElement('div');
    document.body.appendChild(target);
    mounted = mount(Dashboard, { target, props: { debounceMs: 500, pollMs: 600_000 }, context: contextFor(api, fakeShell()) });
    flushSync();
    await vi.advanceTimersByTimeAsync(0);
    const reads = () => ['statsGet', 'keysList', 'keysScheduleGet', 'securityEventsList'].map((n) => calls.filter((c) => c.name === n).length);
    expect(reads()).toEqual([1, 1, 1, 1]);
    // Twenty events 10 ms apart, then quiet: nothing is read until 500 ms after the last.
    for (let i = 0; i < 20; i++) {
      if (i > 0) await vi.advanceTimersByTimeAsync(10);
      emitAdminEvent(event);
    }
    await vi.advanceTimersByTimeAsync(499);
    expect(reads()).toEqual([1, 1, 1, 1]);
    await vi.advanceTimersByTimeAsync(1);
    expect(reads()).toEqual([2, 2, 2, 2]);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(reads()).toEqual([2, 2, 2, 2]);
  });

  it('still re-reads during an endless stream of events, at most once per bounded wait', async () => {
    const { api, calls } = fakeApi();
    const target = document.createElement('div');
    document.body.appendChild(target);
    mounted = mount(Dashboard, { target, props: { debounceMs: 500, pollMs: 600_000 }, context: contextFor(api, fakeShell()) });
    flushSync();
    await vi.advanceTimersByTimeAsync(0);
    // One event every 100 ms for 10 s: the quiet period never comes.
    for (let i = 0; i < 100; i++) {
      emitAdminEvent(event);
      await vi.advanceTimersByTimeAsync(100);
    }
    const stats = calls.filter((c) => c.name === 'statsGet').length - 1;
    expect(stats).toBeGreaterThanOrEqual(4);
    expect(stats).toBeLessThanOrEqual(6);
  });

  it('stops listening when it is left: no read after unmount', async () => {
    const { api, calls } = fakeApi();
    const target = document.createElement('div');
    document.body.appendChild(target);
    mounted = mount(Dashboard, { target, props: { debounceMs: 500, pollMs: 600_000 }, context: contextFor(api, fakeShell()) });
    flushSync();
    await vi.advanceTimersByTimeAsync(0);
    emitAdminEvent(event);
    unmount(mounted);
    mounted = null;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls.filter((c) => c.name === 'statsGet').length).toBe(1);
  });
});

describe('debounce', () => {
  it('runs once, the given time after the last call', () => {
    let n = 0;
    const d = debounce(() => n++, 300);
    d();
    vi.advanceTimersByTime(200);
    d();
    vi.advanceTimersByTime(299);
    expect(n).toBe(0);
    expect(d.pending).toBe(true);
    vi.advanceTimersByTime(1);
    expect(n).toBe(1);
    expect(d.pending).toBe(false);
  });

  it('can be cancelled or flushed', () => {
    let n = 0;
    const d = debounce(() => n++, 300);
    d();
    d.cancel();
    vi.advanceTimersByTime(1_000);
    expect(n).toBe(0);
    d();
    d.flush();
    expect(n).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect(n).toBe(1);
  });
});
