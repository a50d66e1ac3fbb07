import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount, type Component } from 'svelte';
import { contextFor } from '../src/lib/context';
import { secretsStore } from '../src/lib/secrets.svelte';
import { client, fakeApi, fakeShell, settle } from './fake-api';
import ClientEdit from '../src/pages/ClientEdit.svelte';

let mounted: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
});

describe('ClientEdit: pushed authorization requests', () => {
  it('shows whether the client requires PAR and saves the switch', async () => {
    const c = client({ client_id: 'c-par', require_pushed_authorization_requests: false });
    const { api, calls } = fakeApi({ clients: [c] });
    const target = document.createElement('div');
    document.body.appendChild(target);
    let saved = false;
    mounted = mount(ClientEdit as Component<Record<string, unknown>>, {
      target,
      props: { client: c, onclose: () => {}, onsaved: () => { saved = true; } },
      context: contextFor(api, fakeShell(), secretsStore()),
    });
    await settle();
    flushSync();
    const box = document.querySelector<HTMLInputElement>('[data-testid=require-par]')!;
    expect(box.checked).toBe(false);
    expect(box.closest('label')?.textContent).toContain('Require pushed authorization requests');
    box.click();
    flushSync();
    [...document.querySelectorAll('button')].find((b) => b.textContent === 'Save')!.click();
    await settle();
    flushSync();
    const upd = calls.find((x) => x.name === 'clientUpdate');
    expect(upd?.args[0]).toBe('c-par');
    expect((upd?.args[1] as Record<string, unknown>).require_pushed_authorization_requests).toBe(true);
    expect(saved).toBe(true);
  });
});
