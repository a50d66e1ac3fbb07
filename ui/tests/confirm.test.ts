import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import Confirm from '../src/components/Confirm.svelte';
import { settle } from './fake-api';

let mounted: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
});

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

type Impact = { sessions: number; refresh_families: number; live_access_tokens: number };
function render(props: { preview?: () => Promise<Impact>; onconfirm: () => Promise<unknown>; oncancel?: () => void }) {
  const target = document.createElement('div');
  document.body.appendChild(target);
  const cancelled: number[] = [];
  mounted = mount(Confirm, {
    target,
    props: { title: 'Revoke it?', confirmLabel: 'Revoke', confirmTestid: 'confirm', impactTestid: 'impact', oncancel: () => cancelled.push(1), ...props },
  });
  flushSync();
  return { target, cancelled };
}
const confirmButton = (t: HTMLElement) => t.querySelector<HTMLButtonElement>('[data-testid=confirm]')!;
const byText = (t: HTMLElement, text: string) => [...t.querySelectorAll<HTMLButtonElement>('button')].find((b) => b.textContent?.trim() === text)!;

describe('the confirmation of a destructive action', () => {
  it('runs the dry run first and can be confirmed only once it says what is cut off', async () => {
    const d = deferred<Impact>();
    let confirmed = 0;
    const { target } = render({ preview: () => d.promise, onconfirm: async () => { confirmed++; } });
    expect(target.querySelector('[role=dialog]')?.getAttribute('aria-label')).toBe('Revoke it?');
    expect(confirmButton(target).disabled).toBe(true);
    confirmButton(target).click();
    expect(confirmed).toBe(0);
    d.resolve({ sessions: 2, refresh_families: 1, live_access_tokens: 5 });
    await settle();
    flushSync();
    const impact = target.querySelector('[data-testid=impact]')!.textContent!;
    expect(impact).toMatch(/2\s+live sessions/);
    expect(impact).toMatch(/1\s+refresh token family/);
    expect(impact).toMatch(/5\s+live access tokens/);
    expect(confirmButton(target).disabled).toBe(false);
    confirmButton(target).click();
    await settle();
    expect(confirmed).toBe(1);
  });

  it('shows a failed dry run inside the dialog, keeps the action locked, and tries again on request', async () => {
    let calls = 0;
    let confirmed = 0;
    const { target } = render({
      preview: async () => {
        calls++;
        if (calls === 1) throw { code: 'unavailable', message: 'the database is locked' };
        return { sessions: 1, refresh_families: 0, live_access_tokens: 0 };
      },
      onconfirm: async () => { confirmed++; },
    });
    await settle();
    flushSync();
    const dialog = target.querySelector('[role=dialog]')!;
    expect(dialog.querySelector('[role=alert]')?.textContent).toContain('the database is locked');
    expect(confirmButton(target).disabled).toBe(true);
    dialog.querySelector<HTMLButtonElement>('[data-testid=retry]')!.click();
    await settle();
    flushSync();
    expect(calls).toBe(2);
    expect(dialog.querySelector('[role=alert]')).toBeNull();
    expect(target.querySelector('[data-testid=impact]')!.textContent).toMatch(/1\s+live session\b/);
    expect(confirmButton(target).disabled).toBe(false);
    expect(confirmed).toBe(0);
  });

  it('shows a failed action inside the dialog and stays open', async () => {
    const { target, cancelled } = render({ onconfirm: () => Promise.reject({ code: 'forbidden', message: 'read-only key' }) });
    confirmButton(target).click();
    await settle();
    flushSync();
    expect(target.querySelector('[role=dialog] [role=alert]')?.textContent).toContain('read-only key');
    expect(target.querySelector('[role=dialog]')).toBeTruthy();
    expect(cancelled).toEqual([]);
    expect(confirmButton(target).disabled).toBe(false);
  });

  it('is busy while the action runs, so a second click does not run it twice', async () => {
    const d = deferred<void>();
    let confirmed = 0;
    const { target } = render({ onconfirm: () => { confirmed++; return d.promise; } });
    confirmButton(target).click();
    flushSync();
    expect(confirmButton(target).disabled).toBe(true);
    confirmButton(target).click();
    expect(confirmed).toBe(1);
    d.resolve();
    await settle();
  });

  it('does nothing on Cancel or Escape', async () => {
    let confirmed = 0;
    let previews = 0;
    const { target, cancelled } = render({
      preview: async () => { previews++; return { sessions: 1, refresh_families: 1, live_access_tokens: 1 }; },
      onconfirm: async () => { confirmed++; },
    });
    await settle();
    flushSync();
    byText(target, 'Cancel').click();
    target.querySelector('[role=dialog]')!.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    expect(cancelled.length).toBe(2);
    expect(confirmed).toBe(0);
    expect(previews).toBe(1);
  });
});
