import { getContext, setContext } from 'svelte';
import type { AdminApi } from './api';
import type { ConsoleStatus } from './types';

const API = Symbol('admin-api');

export function provideApi(api: AdminApi): void {
  setContext(API, api);
}

export function useApi(): AdminApi {
  const api = getContext<AdminApi | undefined>(API);
  if (!api) throw new Error('no AdminApi in context');
  return api;
}

/** What the pages share: the connection, and navigation between pages. */
export interface Shell {
  status: ConsoleStatus | null;
  go(page: PageId, arg?: string): void;
  inspect(token: string): void;
}

export type PageId = 'dashboard' | 'clients' | 'scopes' | 'users' | 'keys' | 'sessions' | 'tokens' | 'audit' | 'settings';

const SHELL = Symbol('shell');
export function provideShell(s: Shell): void {
  setContext(SHELL, s);
}
export function useShell(): Shell {
  const s = getContext<Shell | undefined>(SHELL);
  if (!s) throw new Error('no shell in context');
  return s;
}

/** The context map `mount()` needs to render a page outside the App (tests). */
export function contextFor(api: AdminApi, shell: Shell): Map<symbol, unknown> {
  return new Map<symbol, unknown>([[API, api], [SHELL, shell]]);
}
