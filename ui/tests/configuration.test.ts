import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount, type Component } from 'svelte';
import { contextFor } from '../src/lib/context';
import type * as T from '../src/lib/types';
import { fakeApi, fakeShell, settle, NOW } from './fake-api';
import Configuration from '../src/pages/Configuration.svelte';

let mounted: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
});

async function render(api: ReturnType<typeof fakeApi>['api']) {
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted = mount(Configuration as Component<Record<string, unknown>>, { target, props: {}, context: contextFor(api, fakeShell()) });
  await settle();
  flushSync();
  return target;
}

const $ = <E extends Element = HTMLElement>(t: ParentNode, id: string) => t.querySelector<E>(`[data-testid=${id}]`);

async function click(el: Element | null) {
  if (!el) throw new Error('nothing to click');
  (el as HTMLElement).click();
  await settle();
  flushSync();
}

function type(el: HTMLTextAreaElement | null, value: string) {
  if (!el) throw new Error('nothing to type in');
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  flushSync();
}

const PLAN: T.ConfigPlanDto = {
  changes: [
    { kind: 'scope', id: 'orders:read', action: 'create', fields: [{ field: 'description', old: null, new: '"Read your orders"' }] },
    { kind: 'client', id: 'shop', action: 'update', fields: [
      { field: 'access_token_ttl', old: '600', new: '300' },
      { field: 'secret', old: '(secret)', new: 'from ${env:SHOP_SECRET}' },
    ] },
    { kind: 'exchange_policy', id: 'xp_old', action: 'delete', fields: [] },
  ],
  skipped: [{ kind: 'client', id: 'legacy', action: 'delete', fields: [] }],
  notes: ['clients.shop.secret: ${env:SHOP_SECRET} has no value here, so the secret was not compared'],
  drift: { last_applied_at: NOW - 3600, last_applied_by: 'api-key:ci', drifted: true },
  plan_id: 'p'.repeat(64),
  fingerprint: 'f'.repeat(64),
};

describe('Configuration page', () => {
  it('exports the connected server\'s configuration as YAML with a copy button and names every control', async () => {
    const { api, calls } = fakeApi({ configYaml: 'version: 1\nclients: {}\n' });
    const t = await render(api);
    expect($(t, 'config-yaml')).toBeNull();
    await click($(t, 'config-export'));
    expect(calls.map((c) => c.name)).toContain('configExport');
    expect($<HTMLTextAreaElement>(t, 'config-yaml')?.value).toBe('version: 1\nclients: {}\n');
    expect($(t, 'config-copy')?.getAttribute('aria-label')).toBe('Copy the YAML document');
    // Every form control has an accessible name (its label).
    for (const el of t.querySelectorAll('input, textarea')) {
      expect(el.closest('label'), (el as HTMLElement).outerHTML).not.toBeNull();
    }
    for (const b of t.querySelectorAll('button')) expect(b.textContent?.trim() || b.getAttribute('aria-label')).toBeTruthy();
  });

  it('plans a pasted document without secrets and shows creates, field changes, deletions, skipped deletions and drift', async () => {
    const { api, calls } = fakeApi({ configPlan: PLAN });
    const t = await render(api);
    expect($<HTMLButtonElement>(t, 'config-plan')?.disabled).toBe(true);
    type($(t, 'config-paste'), 'version: 1\nclients: {}\n');
    ($<HTMLInputElement>(t, 'config-prune')!).click();
    flushSync();
    await click($(t, 'config-plan'));
    const req = calls.find((c) => c.name === 'configPlan')?.args[0] as T.ConfigPlanRequest;
    expect(req).toEqual({ files: [{ name: 'latchkey.yaml', yaml: 'version: 1\nclients: {}\n' }], secrets: {}, prune: true });

    const result = $(t, 'config-result')!;
    expect($(result, 'config-summary')?.textContent).toContain('1 to create, 1 to change, 1 to delete.');
    const changes = [...result.querySelectorAll('[data-testid=config-change]')];
    expect(changes.map((c) => c.className.split(' ')[0])).toEqual(['create', 'update', 'delete']);
    expect(changes[1].textContent).toContain('Client shop will be changed');
    const rows = [...changes[1].querySelectorAll('tbody tr')].map((r) => [...r.children].map((c) => c.textContent));
    expect(rows).toEqual([['access_token_ttl', '600', '300'], ['secret', '(secret)', 'from ${env:SHOP_SECRET}']]);
    expect(changes[1].querySelector('table')?.getAttribute('aria-label')).toBe('Fields of client shop');
    expect($(result, 'config-skipped')?.textContent).toContain('legacy');
    expect($(result, 'config-drift')?.textContent).toContain('Drift: changed outside this configuration');
    expect($(result, 'config-drift')?.textContent).toContain('api-key:ci');
    expect(result.textContent).toContain('Note: clients.shop.secret');
  });

  it('says so when nothing would change, and shows the server\'s error with the path of a bad item', async () => {
    const { api } = fakeApi();
    const t = await render(api);
    type($(t, 'config-paste'), 'version: 1\n');
    await click($(t, 'config-plan'));
    expect($(t, 'config-summary')?.textContent).toContain('No changes');
    expect($(t, 'config-drift')?.textContent).toContain('No apply is recorded');

    type($(t, 'config-paste'), 'clients: {}\n');
    await click($(t, 'config-plan'));
    expect($(t, 'config-result')).toBeNull();
    expect(t.querySelector('[role=alert]')?.textContent).toContain('latchkey.yaml: version: missing');
  });
});
