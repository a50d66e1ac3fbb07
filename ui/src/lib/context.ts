import { getContext, setContext } from 'svelte';
import type { AdminApi } from './api';
import type { ConsoleStatus } from './types';
import { secretsStore, type Secrets } from './secrets.svelte';

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
  /** Registers a check run before leaving the page (or the connection): it returns what
   * would be lost, in words, or null when nothing would. Returns the unregistering. */
  guard(check: () => string | null): () => void;
}

export type PageId = 'dashboard' | 'security' | 'clients' | 'scopes' | 'users' | 'keys' | 'sessions' | 'tokens' | 'exchange' | 'audit' | 'configuration' | 'settings';

const SHELL = Symbol('shell');
export function provideShell(s: Shell): void {
  setContext(SHELL, s);
}
export function useShell(): Shell {
  const s = getContext<Shell | undefined>(SHELL);
  if (!s) throw new Error('no shell in context');
  return s;
}

const SECRETS = Symbol('secrets');
/** The one queue of values shown once (lib/secrets.svelte.ts), held by the App. */
export function provideSecrets(s: Secrets): void {
  setContext(SECRETS, s);
}
export function useSecrets(): Secrets {
  const s = getContext<Secrets | undefined>(SECRETS);
  if (!s) throw new Error('no secrets queue in context');
  return s;
}

/** The context map `mount()` needs to render a page outside the App (tests). */
export function contextFor(api: AdminApi, shell: Shell, secrets: Secrets = secretsStore()): Map<symbol, unknown> {
  return new Map<symbol, unknown>([[API, api], [SHELL, shell], [SECRETS, secrets]]);
}
