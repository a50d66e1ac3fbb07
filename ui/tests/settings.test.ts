import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount, type Component } from 'svelte';
import { contextFor } from '../src/lib/context';
import { ApiError } from '../src/lib/api';
import { exactSpan } from '../src/lib/format';
import type * as T from '../src/lib/types';
import { fakeApi, fakeShell, settingsDto, settle, SETTING_DEFAULTS } from './fake-api';
import Settings from '../src/pages/Settings.svelte';

let mounted: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
});

async function render(api: ReturnType<typeof fakeApi>['api']) {
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted = mount(Settings as Component<Record<string, unknown>>, { target, props: {}, context: contextFor(api, fakeShell()) });
  await settle();
  flushSync();
  return target;
}

const field = (t: ParentNode, name: string) => t.querySelector<HTMLElement>(`[data-testid=setting-${name}]`)!;
const input = (t: ParentNode, name: string) => t.querySelector<HTMLInputElement>(`#setting-${name}`)!;
const unit = (t: ParentNode, name: string) => field(t, name).querySelector<HTMLSelectElement>('select')!;
const saveButton = (t: ParentNode) => t.querySelector<HTMLButtonElement>('[data-testid=settings-save]')!;

function type(el: HTMLInputElement, value: string) {
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  flushSync();
}

function click(el: Element | null | undefined) {
  if (!el) throw new Error('nothing to click');
  (el as HTMLElement).click();
  flushSync();
}

const resetButton = (t: ParentNode, name: string) =>
  [...field(t, name).querySelectorAll('button')].find((b) => b.textContent?.trim() === 'Reset to default');

describe('Server settings', () => {
  it('groups every setting, in people units with the raw seconds, each marked as default', async () => {
    const t = await render(fakeApi().api);
    const legends = [...t.querySelectorAll('[data-testid=server-settings] legend')].map((l) => l.textContent);
    expect(legends).toEqual(['Token lifetimes', 'Key rotation', 'Rate limits', 'Detections', 'Retention']);
    for (const name of Object.keys(SETTING_DEFAULTS)) {
      expect(input(t, name), name).toBeTruthy();
      expect(field(t, name).textContent).toContain('default');
    }
    // 30 days is shown as 30 in days, with its seconds beside it.
    expect(input(t, 'refresh_token_ttl').value).toBe('30');
    expect(unit(t, 'refresh_token_ttl').selectedOptions[0].textContent).toBe('days');
    expect(field(t, 'refresh_token_ttl').textContent).toContain('2592000 s');
    expect(input(t, 'code_ttl').value).toBe('1');
    expect(unit(t, 'code_ttl').selectedOptions[0].textContent).toBe('minutes');
    // Counts have no unit to pick.
    expect(field(t, 'login_max_failures').querySelector('select')).toBeNull();
    expect(input(t, 'login_max_failures').value).toBe('10');
    expect(saveButton(t).disabled).toBe(true);
  });

  it('names every control for screen readers and leaves all of them in the tab order', async () => {
    const t = await render(fakeApi().api);
    const form = t.querySelector('[data-testid=server-settings]')!;
    for (const el of form.querySelectorAll<HTMLElement>('input, select, button')) {
      const labelled =
        el.getAttribute('aria-label') ||
        (el.id && form.querySelector(`label[for="${el.id}"]`)?.textContent) ||
        (el.tagName === 'BUTTON' && el.textContent?.trim());
      expect(labelled, el.outerHTML).toBeTruthy();
      expect(el.tabIndex, el.outerHTML).toBeGreaterThanOrEqual(0);
    }
  });

  it('sends only the changed setting, in seconds, shows progress while saving and then the admin marker', async () => {
    const { api, calls } = fakeApi();
    let release: (v: T.SettingsDto) => void = () => {};
    const inner = api.settingsUpdate;
    api.settingsUpdate = (req) => {
      calls.push({ name: 'settingsUpdate', args: [req] });
      return new Promise((resolve) => { release = resolve; }).then(() => inner(req)) as Promise<T.SettingsDto>;
    };
    const t = await render(api);
    type(input(t, 'code_ttl'), '2');
    expect(field(t, 'code_ttl').textContent).toContain('120 s');
    expect(field(t, 'code_ttl').textContent).toContain('changed');
    expect(saveButton(t).textContent).toContain('Save 1 change');
    click(saveButton(t));
    flushSync();
    expect(saveButton(t).textContent).toContain('Saving…');
    expect(saveButton(t).disabled).toBe(true);
    expect(saveButton(t).getAttribute('aria-busy')).toBe('true');
    expect(calls.filter((c) => c.name === 'settingsUpdate').map((c) => c.args[0])).toEqual([{ code_ttl: 120 }]);
    release(settingsDto());
    await settle();
    await settle();
    flushSync();
    expect(saveButton(t).textContent).not.toContain('Saving');
    expect(t.textContent).toContain('Saved.');
    expect(field(t, 'code_ttl').textContent).toContain('set by admin');
    expect(input(t, 'code_ttl').value).toBe('2');
  });

  it('resets an admin-set value to the default with null', async () => {
    const { api, calls } = fakeApi({ settings: { retire_after: 172800 } });
    const t = await render(api);
    expect(field(t, 'retire_after').textContent).toContain('set by admin');
    expect(input(t, 'retire_after').value).toBe('2');
    // A default-valued setting has nothing to reset.
    expect(resetButton(t, 'code_ttl')?.disabled).toBe(true);
    click(resetButton(t, 'retire_after'));
    expect(input(t, 'retire_after').value).toBe('1');
    expect(field(t, 'retire_after').textContent).toContain('back to default on save');
    click(saveButton(t));
    await settle();
    flushSync();
    expect(calls.find((c) => c.name === 'settingsUpdate')?.args[0]).toEqual({ retire_after: null });
    expect(field(t, 'retire_after').textContent).toContain('default');
    expect(field(t, 'retire_after').textContent).not.toContain('set by admin');
  });

  it('shows a refusal as a sentence with its code and keeps the edit', async () => {
    const { api } = fakeApi();
    const t = await render(api);
    type(input(t, 'code_ttl'), '5');
    unit(t, 'code_ttl').value = '1';
    unit(t, 'code_ttl').dispatchEvent(new Event('change', { bubbles: true }));
    flushSync();
    click(saveButton(t));
    await settle();
    flushSync();
    const alert = t.querySelector('[role=alert]')!;
    expect(alert.textContent).toContain('code_ttl must be between 10 and 600 seconds');
    expect(alert.textContent).toContain('invalid_input');
    expect(input(t, 'code_ttl').value).toBe('5');
    expect(field(t, 'code_ttl').textContent).toContain('changed');
  });

  it('refuses a value that is not a whole number of seconds before asking the server', async () => {
    const { api, calls } = fakeApi();
    const t = await render(api);
    type(input(t, 'login_block'), '1.5');
    expect(input(t, 'login_block').getAttribute('aria-invalid')).toBe('true');
    click(saveButton(t));
    await settle();
    flushSync();
    expect(calls.some((c) => c.name === 'settingsUpdate')).toBe(false);
    expect(t.querySelector('[role=alert]')?.textContent).toContain('login_block');
  });

  it('reports a failed read with its code instead of an empty form', async () => {
    const { api } = fakeApi();
    api.settingsGet = () => Promise.reject(new ApiError('forbidden', 'this key may not read the settings'));
    const t = await render(api);
    expect(t.querySelector('[role=alert]')?.textContent).toContain('forbidden');
    expect(t.querySelector('[data-testid=server-settings]')).toBeNull();
  });
});

describe('backup of the embedded store', () => {
  async function renderWith(api: ReturnType<typeof fakeApi>['api'], status: T.ConsoleStatus) {
    const target = document.createElement('div');
    document.body.appendChild(target);
    const shell = fakeShell();
    shell.status = status;
    mounted = mount(Settings as Component<Record<string, unknown>>, { target, props: {}, context: contextFor(api, shell) });
    await settle();
    flushSync();
    return target;
  }
  const embedded: T.ConsoleStatus = {
    colour: 'blue', connection_id: 'c1', db_path: '/home/a/.local/share/latchkey/latchkey.db', issuer: 'http://127.0.0.1:9280',
    kind: 'embedded', name: 'This computer', port: 9280, state: 'ready', version: '0.1.0 (abc1234)',
  };

  it('backs up to a new dated file beside the store and says the KEK is not in it', async () => {
    const { api, calls } = fakeApi();
    const t = await renderWith(api, embedded);
    const path = t.querySelector<HTMLInputElement>('#backup-path')!;
    expect(path.labels?.[0]?.textContent).toBe('Backup file');
    expect(path.value).toMatch(/^\/home\/a\/\.local\/share\/latchkey\/latchkey-backup-\d{8}-\d{6}\.db$/);
    const chosen = path.value;
    click(t.querySelector('[data-testid=backup] button[type=submit]'));
    await settle();
    flushSync();
    expect(calls.find((c) => c.name === 'backupCreate')?.args).toEqual([{ path: chosen }]);
    const done = t.querySelector('[data-testid=backup-done]')?.textContent ?? '';
    expect(done).toContain(chosen);
    expect(done).toContain('/data/latchkey.db.kek');
  });

  it('shows why a backup failed and offers no control for a remote server', async () => {
    const { api } = fakeApi();
    api.backupCreate = () => Promise.reject(new ApiError('conflict', 'the file already exists; choose a new file name'));
    const t = await renderWith(api, embedded);
    click(t.querySelector('[data-testid=backup] button[type=submit]'));
    await settle();
    flushSync();
    expect(t.querySelector('[data-testid=backup] [role=alert]')?.textContent).toContain('already exists');
    unmount(mounted!);
    mounted = null;
    document.body.innerHTML = '';
    const r = await renderWith(fakeApi().api, { ...embedded, kind: 'remote', db_path: '', server: 'https://id.example/admin', port: 0 });
    expect(r.querySelector('#backup-path')).toBeNull();
    expect(r.querySelector('[data-testid=backup]')?.textContent).toContain('latchkey backup');
  });
});

describe('exactSpan', () => {
  it('writes exact spans without rounding', () => {
    expect(exactSpan(0)).toBe('0 s');
    expect(exactSpan(90)).toBe('1 min 30 s');
    expect(exactSpan(86400 + 3600)).toBe('1 d 1 h');
  });
});
