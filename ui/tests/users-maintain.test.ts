import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount, type Component } from 'svelte';
import { contextFor } from '../src/lib/context';
import { secretsStore } from '../src/lib/secrets.svelte';
import type * as T from '../src/lib/types';
import { fakeApi, fakeShell, settle, NOW } from './fake-api';
import Users from '../src/pages/Users.svelte';

let mounted: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  document.body.innerHTML = '';
});

const user = (id: string, username: string, is_admin = false): T.UserDto => ({
  id, username, name: null, email: null, email_verified: false, disabled: false, is_admin, password_changed_at: NOW - 86400, created_at: NOW,
});

async function render(users: T.UserDto[]) {
  const { api, calls } = fakeApi({ users });
  const secrets = secretsStore();
  const target = document.createElement('div');
  document.body.appendChild(target);
  mounted = mount(Users as Component<Record<string, unknown>>, { target, props: {}, context: contextFor(api, fakeShell(), secrets) });
  await settle(); flushSync();
  return { t: target, calls, secrets };
}
function type(el: Element | null, value: string) {
  (el as HTMLInputElement).value = value;
  el!.dispatchEvent(new Event('input', { bubbles: true }));
  flushSync();
}
const click = (el: Element | null) => { (el as HTMLElement).click(); flushSync(); };

describe('maintaining users', () => {
  it('edits the name and email, and the change is what the server is sent', async () => {
    const { t, calls } = await render([user('u1', 'alice')]);
    click(t.querySelector('[data-testid=edit-user]'));
    type(document.querySelector('[data-testid=edit-name]'), 'Alice Liddell');
    type(document.querySelector('[data-testid=edit-email]'), 'alice@example.com');
    click(document.querySelector('[data-testid=edit-save]'));
    await settle(); flushSync();
    expect(calls.find((c) => c.name === 'userUpdate')!.args).toEqual(['u1', { name: 'Alice Liddell', email: 'alice@example.com', is_admin: false }]);
    expect(document.querySelector('[data-testid=user-edit]')).toBeNull();
    expect(t.textContent).toContain('Alice Liddell');
  });

  it('keeps the dialog open with the reason when the last administrator would lose the role', async () => {
    const { t } = await render([user('u1', 'root', true), user('u2', 'bob')]);
    click(t.querySelector('[data-testid=edit-user]'));
    click(document.querySelector('[data-testid=edit-admin]'));
    expect(document.querySelector('[data-testid=user-edit]')!.textContent).toContain('loses access to the console');
    click(document.querySelector('[data-testid=edit-save]'));
    await settle(); flushSync();
    const dialog = document.querySelector('[data-testid=user-edit]')!;
    expect(dialog.querySelector('[role=alert]')!.textContent).toContain('last enabled administrator');
  });

  it('generates a password and shows it once, with the username, through the one-time-secret dialog', async () => {
    const { t, calls, secrets } = await render([user('u1', 'alice')]);
    click(t.querySelector('[data-testid=set-password]'));
    click(document.querySelector('[data-testid=password-save]'));
    await settle(); flushSync();
    expect(calls.find((c) => c.name === 'userPasswordSet')!.args).toEqual(['u1', { password: null, must_change_password: true }]);
    const shown = Object.fromEntries(secrets.current!.fields.map((f) => [f.key, f.value]));
    expect(shown).toEqual({ username: 'alice', password: 'generated-password-24chars' });
    expect(secrets.current!.note).toContain('asked to replace it with a password of their own');
    expect(t.textContent).not.toContain('generated-password-24chars');
    // The table says the next sign-in asks for a new password.
    expect(t.querySelector('[data-testid=user-row] [data-testid=must-change]')).not.toBeNull();
  });

  it('asks for a change at the next sign-in unless that is unticked', async () => {
    const { t, calls } = await render([user('u1', 'alice')]);
    click(t.querySelector('[data-testid=set-password]'));
    const box = document.querySelector<HTMLInputElement>('[data-testid=password-must-change]')!;
    expect(box.checked).toBe(true);
    expect(box.closest('label')!.textContent).toContain('Ask alice to choose a new password at the next sign-in');
    click(box);
    click(document.querySelector('[data-testid=password-save]'));
    await settle(); flushSync();
    expect(calls.find((c) => c.name === 'userPasswordSet')!.args).toEqual(['u1', { password: null, must_change_password: false }]);
    expect(t.querySelector('[data-testid=must-change]')).toBeNull();
  });

  it('sets a typed password without showing anything afterwards', async () => {
    const { t, calls, secrets } = await render([user('u1', 'alice')]);
    click(t.querySelector('[data-testid=set-password]'));
    click(document.querySelector('[data-testid=password-type]'));
    type(document.querySelector('[data-testid=password-new]'), 'a long new password');
    click(document.querySelector('[data-testid=password-save]'));
    await settle(); flushSync();
    expect(calls.find((c) => c.name === 'userPasswordSet')!.args).toEqual(['u1', { password: 'a long new password', must_change_password: true }]);
    expect(secrets.current).toBeNull();
  });
});

describe('users: activity and delete with a dry run (issue 12)', () => {
  it('lists the last sign-in and the live sessions, which open the user’s sessions', async () => {
    const { t } = await render([
      { ...user('u1', 'alice'), last_sign_in_at: NOW - 3600, live_sessions: 2 },
      { ...user('u2', 'bob'), last_sign_in_at: null, live_sessions: 0 },
    ]);
    const rows = [...t.querySelectorAll('[data-testid=user-row]')];
    expect(rows[0].textContent).toContain('1 h ago');
    expect(rows[1].textContent).toContain('never');
    const link = rows[0].querySelector<HTMLButtonElement>('[data-testid=user-sessions]')!;
    expect(link.getAttribute('aria-label')).toBe('2 live sessions of alice');
    expect(rows[1].querySelector('[data-testid=user-sessions]')).toBeNull();
  });

  it('shows what a delete cuts off before it acts, then deletes', async () => {
    const { t, calls } = await render([user('u0', 'root', true), { ...user('u1', 'alice'), last_sign_in_at: NOW - 60, live_sessions: 2 }]);
    click(t.querySelectorAll('[data-testid=delete-user]')[1]);
    await settle(); flushSync();
    expect(calls.some((c) => c.name === 'userImpactGet' && c.args[0] === 'u1')).toBe(true);
    expect(calls.some((c) => c.name === 'userDelete')).toBe(false);
    expect(document.querySelector('[data-testid=delete-impact]')!.textContent).toMatch(/2 live sessions?/);
    expect(document.querySelector('[data-testid=delete-last-sign-in]')!.textContent).toContain('Last sign-in');
    expect(document.querySelector('[data-testid=delete-last-admin]')).toBeNull();
    click(document.querySelector('[data-testid=confirm-delete-user]'));
    await settle(); flushSync();
    expect(calls.find((c) => c.name === 'userDelete')!.args).toEqual(['u1']);
    expect(t.textContent).not.toContain('alice');
  });

  it('warns before the click that the last administrator cannot be deleted, and the refusal stays in the dialog', async () => {
    const { t } = await render([user('u0', 'root', true)]);
    click(t.querySelector('[data-testid=delete-user]'));
    await settle(); flushSync();
    expect(document.querySelector('[data-testid=delete-last-admin]')!.textContent).toContain('last enabled administrator');
    click(document.querySelector('[data-testid=confirm-delete-user]'));
    await settle(); flushSync();
    expect([...document.querySelectorAll('[role=dialog] [role=alert]')].some((a) => a.textContent!.includes('make someone else an administrator'))).toBe(true);
    expect(t.textContent).toContain('root');
  });
});
