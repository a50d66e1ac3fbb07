// Every value shown once (a new or rotated client secret, the first admin's password, a
// new admin API key) goes through one queue, held by the App and shown by one dialog
// (components/SecretDialog.svelte) above every page: a page change or a reload of the
// page that asked for it does not lose it; only the person closing the dialog does.
//
// Memory only, on purpose: nothing here is written to localStorage, sessionStorage, a
// cookie or the URL, and a dismissed value is dropped from the queue at once (the
// dialog's DOM goes with it), so it lives no longer than it is on screen.

export interface SecretField {
  /** The JSON key (`client_id`, `client_secret`, `token_endpoint`, …). */
  key: string;
  label: string;
  value: string;
  /** The value that is shown once (the others are for context: ids, URLs). */
  secret?: boolean;
  /** The variable name in "Copy as .env"; fields without one are left out of it. */
  env?: string;
}

export interface OneTimeSecret {
  id: number;
  title: string;
  /** What it is for and what happens to the previous one; said above the values. */
  note: string;
  fields: SecretField[];
  /** The connection it belongs to, so a secret still open after a switch says whose. */
  connection: string | null;
}

export interface Secrets {
  /** The one on screen; null when none waits. */
  readonly current: OneTimeSecret | null;
  /** How many more wait behind it. */
  readonly waiting: number;
  show(s: Omit<OneTimeSecret, 'id' | 'connection'> & { connection?: string | null }): void;
  /** Drops the one on screen (it cannot be shown again). */
  dismiss(): void;
}

export function secretsStore(): Secrets {
  let queue = $state.raw<OneTimeSecret[]>([]);
  let next = 1;
  return {
    get current() { return queue[0] ?? null; },
    get waiting() { return Math.max(0, queue.length - 1); },
    show(s) {
      queue = [...queue, { ...s, connection: s.connection ?? null, id: next++ }];
    },
    dismiss() {
      queue = queue.slice(1);
    },
  };
}

/** The issuer's token endpoint (Latchkey serves it at `<issuer>/token`). */
export function tokenEndpoint(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/token`;
}

/** A client's credentials: its id, the secret, and where to use them. */
export function clientCredentials(
  c: { client_id: string; name: string },
  secret: string,
  issuer: string | null | undefined,
): SecretField[] {
  const f: SecretField[] = [
    { key: 'client_id', label: 'Client id', value: c.client_id, env: 'OAUTH_CLIENT_ID' },
    { key: 'client_secret', label: 'Client secret', value: secret, secret: true, env: 'OAUTH_CLIENT_SECRET' },
  ];
  if (issuer) {
    f.push({ key: 'token_endpoint', label: 'Token endpoint', value: tokenEndpoint(issuer), env: 'OAUTH_TOKEN_ENDPOINT' });
    f.push({ key: 'issuer', label: 'Issuer', value: issuer, env: 'OAUTH_ISSUER' });
  }
  return f;
}

/** `KEY=value` lines; a value with anything but safe characters is single-quoted. */
export function asEnv(fields: SecretField[]): string {
  const quote = (v: string) => (/^[A-Za-z0-9_./:@%+,=-]*$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);
  return fields.filter((f) => f.env).map((f) => `${f.env}=${quote(f.value)}`).join('\n') + '\n';
}

export function asJson(fields: SecretField[]): string {
  return JSON.stringify(Object.fromEntries(fields.map((f) => [f.key, f.value])), null, 2);
}
