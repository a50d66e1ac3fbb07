import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount, type Component } from 'svelte';
import { contextFor } from '../src/lib/context';
import { secretsStore } from '../src/lib/secrets.svelte';
import type * as T from '../src/lib/types';
import { fakeApi, fakeShell, settle, NOW } from './fake-api';
import Webhooks from '../src/components/Webhooks.svelte';

let mounted: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
});

async function render(api: ReturnType<typeof fakeApi>['api'], secrets = secretsStore()) {
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted = mount(Webhooks as Component<Record<string, unknown>>, { target, props: {}, context: contextFor(api, fakeShell(), secrets) });
  await settle();
  flushSync();
  return target;
}

function type(el: HTMLInputElement, value: string) {
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  flushSync();
}

const hook = (over: Partial<T.WebhookDto>): T.WebhookDto => ({
  id: 'wh_1', name: 'pager', url: 'https://hooks.example.com/x', severities: [], rules: [], enabled: true,
  created_at: NOW - 3600, created_by: 'local-admin', updated_at: NOW - 3600, last_success_at: null,
  last_failure_at: null, last_failure_reason: null, consecutive_failures: 0, pending: 0, ...over,
});

describe('Webhooks', () => {
  it('registers a webhook with the ticked severities and hands its secret to the one-time dialog only', async () => {
    const { api, calls } = fakeApi();
    const secrets = secretsStore();
    const t = await render(api, secrets);
    expect(t.textContent).toContain('No webhooks yet');
    type(t.querySelector<HTMLInputElement>('#webhook-name')!, 'on-call');
    type(t.querySelector<HTMLInputElement>('#webhook-url')!, 'https://hooks.example.com/latchkey');
    t.querySelector<HTMLFormElement>('form')!.requestSubmit();
    await settle();
    flushSync();
    const create = calls.find((c) => c.name === 'webhookCreate');
    expect(create?.args[0]).toEqual({ name: 'on-call', url: 'https://hooks.example.com/latchkey', severities: ['high', 'critical'], rules: [] });
    const shown = secrets.current?.fields.find((f) => f.secret);
    expect(shown?.value).toBe('whsec_c2VjcmV0');
    // The page itself never prints it; the list shows the new row.
    expect(t.textContent).not.toContain('whsec_');
    expect(t.querySelectorAll('[data-testid=webhook-row]').length).toBe(1);
  });

  it('shows a failing endpoint with its reason, streak and queue, and the outcome of a test event', async () => {
    const { api } = fakeApi({
      webhooks: [hook({ consecutive_failures: 3, last_failure_at: NOW - 60, last_failure_reason: 'the endpoint answered 503', pending: 7 })],
      webhookTest: { delivered: false, status: 503, error: 'the endpoint answered 503' },
    });
    const t = await render(api);
    const row = t.querySelector('[data-testid=webhook-row]')!;
    expect(row.textContent).toContain('failing ×3');
    expect(row.textContent).toContain('the endpoint answered 503');
    expect(row.textContent).toContain('7');
    [...row.querySelectorAll('button')].find((b) => b.textContent === 'Test')!.click();
    await settle();
    flushSync();
    expect(t.querySelector('[data-testid=webhook-test-result]')?.textContent).toContain('not delivered: the endpoint answered 503');
  });

  it('refuses a plain http endpoint with the server\'s reason', async () => {
    const { api } = fakeApi();
    const t = await render(api);
    type(t.querySelector<HTMLInputElement>('#webhook-name')!, 'x');
    type(t.querySelector<HTMLInputElement>('#webhook-url')!, 'http://hooks.example.com/x');
    t.querySelector<HTMLFormElement>('form')!.requestSubmit();
    await settle();
    flushSync();
    expect(t.textContent).toContain('https:// only');
    expect(t.querySelectorAll('[data-testid=webhook-row]').length).toBe(0);
  });
});
