import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { tauriApi } from '../src/lib/tauri';
import { ADMIN_OPS, ApiError, camelOp } from '../src/lib/api';

afterEach(() => clearMocks());

describe('the Tauri AdminApi', () => {
  it('calls each command by its snake_case name with snake_case arguments', async () => {
    const seen: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      seen.push([cmd, args]);
      return cmd === 'clients_list' ? [] : { sessions: 1, refresh_families: 1, live_access_tokens: 1, dry_run: true };
    });
    const api = tauriApi();
    await api.clientsList();
    await api.sessionsRevoke({ client_id: 'c1', dry_run: true });
    expect(seen[0][0]).toBe('clients_list');
    expect(seen[1]).toEqual(['sessions_revoke', { req: { client_id: 'c1', dry_run: true } }]);
  });

  it('has a method for every admin operation of the op table, calling the command of that name', async () => {
    const api = tauriApi() as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const seen: string[] = [];
    mockIPC((cmd) => {
      seen.push(cmd);
      return null;
    });
    for (const op of ADMIN_OPS) {
      expect(typeof api[camelOp(op.name)], op.name).toBe('function');
      // events_subscribe takes a callback; the others ignore extra arguments.
      await api[camelOp(op.name)](null, () => {});
      expect(seen.at(-1)).toBe(op.name);
    }
  });

  it('sends a settings change as req, a reset as null', async () => {
    const seen: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      seen.push([cmd, args]);
      return {};
    });
    await tauriApi().settingsGet();
    await tauriApi().settingsUpdate({ code_ttl: 120, retire_after: null });
    expect(seen).toEqual([
      ['settings_get', {}],
      ['settings_update', { req: { code_ttl: 120, retire_after: null } }],
    ]);
  });

  it('turns a {code, message} rejection into an ApiError with that code', async () => {
    mockIPC(() => {
      throw { code: 'not_found', message: 'no client "x"' };
    });
    const e = await tauriApi().clientGet('x').catch((e) => e);
    expect(e).toBeInstanceOf(ApiError);
    expect(e.code).toBe('not_found');
    expect(e.message).toBe('no client "x"');
  });

  it('reports a refusal of the IPC layer itself (a command not allowed) with code ipc', async () => {
    mockIPC(() => {
      throw 'clients_list not allowed by ACL';
    });
    const e = await tauriApi().clientsList().catch((e) => e);
    expect(e.code).toBe('ipc');
  });
});
