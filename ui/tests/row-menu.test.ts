import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount, type Component } from 'svelte';
import { contextFor } from '../src/lib/context';
import { fakeApi, fakeShell, client, settle } from './fake-api';
import Clients from '../src/pages/Clients.svelte';

let mounted: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
});

async function render() {
  const { api, calls } = fakeApi({ clients: [client({ client_id: 'billing', name: 'Billing' })] });
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted = mount(Clients as Component<Record<string, unknown>>, { target, props: {}, context: contextFor(api, fakeShell()) });
  await settle(); flushSync();
  return { t: target, calls };
}
const key = (el: Element, k: string) => { el.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true })); flushSync(); };
const tick = () => new Promise((r) => queueMicrotask(() => r(undefined)));

describe("a client row's actions", () => {
  it("are Open (the client's page) and one More menu, closed until asked", async () => {
    const { t } = await render();
    const row = t.querySelector('[data-testid=client-row]')!;
    const visible = [...row.querySelectorAll<HTMLButtonElement>('td.actions button')].filter((b) => !b.closest('[hidden]'));
    expect(visible.map((b) => b.textContent?.trim())).toEqual(['Open', 'More ▾']);
    const more = row.querySelector<HTMLButtonElement>('[data-testid=client-menu]')!;
    expect(more.getAttribute('aria-haspopup')).toBe('menu');
    expect(more.getAttribute('aria-expanded')).toBe('false');
    expect(more.getAttribute('aria-label')).toBe('More actions for Billing');
  });

  it('open from the keyboard on the first item, move with the arrows and close on Escape back to the button', async () => {
    const { t } = await render();
    const more = t.querySelector<HTMLButtonElement>('[data-testid=client-menu]')!;
    more.focus();
    key(more, 'ArrowDown');
    await tick(); flushSync();
    const menu = t.querySelector<HTMLElement>('[role=menu]')!;
    expect(menu.hidden).toBe(false);
    expect(more.getAttribute('aria-expanded')).toBe('true');
    const items = [...menu.querySelectorAll<HTMLElement>('[role=menuitem]')];
    expect(items.map((b) => b.textContent)).toEqual(['Edit', 'Try it', 'Rotate secret', 'Disable', 'Clone', 'Delete']);
    expect(document.activeElement).toBe(items[0]);
    key(document.activeElement!, 'ArrowUp');
    expect(document.activeElement).toBe(items.at(-1));
    key(document.activeElement!, 'Escape');
    expect(menu.hidden).toBe(true);
    expect(document.activeElement).toBe(more);
  });

  it('run the chosen action and close', async () => {
    const { t } = await render();
    t.querySelector<HTMLButtonElement>('[data-testid=client-menu]')!.click();
    flushSync();
    t.querySelector<HTMLButtonElement>('[data-testid=disable-client]')!.click();
    flushSync();
    await settle(); flushSync();
    expect(t.querySelector<HTMLElement>('[role=menu]')!.hidden).toBe(true);
    expect(document.querySelector('[role=dialog]')!.textContent).toContain('Disable Billing?');
  });
});
