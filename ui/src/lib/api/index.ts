// The console's view of the backend. Components call these methods and nothing else:
// no invoke(), no fetch(). Each method is the camelCase twin of an IPC command, which is
// the AdminBackend method of the same name (`clients_list` → `clientsList`).
import type * as T from '../types';
import type { AdminOpName } from './operations.gen';

export { ADMIN_OPS, type AdminOp, type AdminOpName } from './operations.gen';

/** `clients_list` → `clientsList`: an operation's method name here. */
export type CamelOp<S extends string> = S extends `${infer H}_${infer R}` ? `${H}${Capitalize<CamelOp<R>>}` : S;

/** `clients_list` → `clientsList` at run time. */
export function camelOp(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

export interface AdminApi {
  consoleStatus(): Promise<T.ConsoleStatus>;
  firstAdminPasswordTake(): Promise<string | null>;

  connectionsList(): Promise<T.ConnectionDto[]>;
  /** Switches to a saved connection; `apiKey` replaces an API-key connection's key. */
  connectionOpen(id: string, apiKey?: string | null): Promise<T.ConsoleStatus>;
  /** Adds a connection and switches to it (a remote one only once its credential works). */
  connectionAdd(req: T.ConnectionAddRequest): Promise<T.ConsoleStatus>;
  connectionUpdate(id: string, name?: string | null, colour?: string | null): Promise<T.ConnectionDto>;
  /** Says what happened (a browser sign-in is revoked at the server first). */
  connectionRemove(id: string): Promise<string>;

  clientsList(): Promise<T.ClientDto[]>;
  clientGet(id: string): Promise<T.ClientDto>;
  clientCreate(req: T.ClientCreateRequest): Promise<T.ClientCreated>;
  clientUpdate(id: string, req: T.ClientUpdateRequest): Promise<T.ClientDto>;
  clientDelete(id: string): Promise<void>;
  clientRotateSecret(id: string, req: T.SecretRotateRequest): Promise<T.SecretRotated>;
  clientSetDisabled(id: string, disabled: boolean): Promise<T.ClientDto>;
  /** What disabling or deleting the client would cut off (the dialogs' dry run). */
  clientImpactGet(id: string): Promise<T.ClientImpactDto>;
  clientClone(id: string, req: T.ClientCloneRequest): Promise<T.ClientCreated>;
  /** Runs the client's own flow against the connected server ("Try it"). */
  clientTry(req: T.ClientTryRequest): Promise<T.ClientTryResult>;

  scopesList(): Promise<T.ScopeDto[]>;
  scopeCreate(req: T.ScopeCreateRequest): Promise<T.ScopeDto>;
  scopeDelete(name: string): Promise<void>;

  usersList(): Promise<T.UserDto[]>;
  userGet(id: string): Promise<T.UserDto>;
  userCreate(req: T.UserCreateRequest): Promise<T.UserDto>;
  userDisable(id: string): Promise<T.UserDto>;
  userEnable(id: string): Promise<T.UserDto>;
  userUpdate(id: string, req: T.UserUpdateRequest): Promise<T.UserDto>;
  /** No password: one is generated and returned once. */
  userPasswordSet(id: string, req: T.UserPasswordSetRequest): Promise<T.UserPasswordSet>;
  /** The delete's dry run: what it would cut off, and whether it is refused. */
  userImpactGet(id: string): Promise<T.UserImpactDto>;
  userDelete(id: string): Promise<void>;

  keysList(): Promise<T.KeyDto[]>;
  keysRotate(req: T.KeysRotateRequest): Promise<T.KeyRotatedDto[]>;
  keyRevoke(kid: string): Promise<T.KeyRevokedDto>;
  keysScheduleGet(): Promise<T.KeysScheduleDto>;
  jwksGet(): Promise<T.JsonValue>;

  sessionsList(filter: T.SessionFilterDto): Promise<T.SessionPageDto>;
  sessionGet(id: string): Promise<T.SessionDto>;
  sessionRevoke(id: string): Promise<T.RevokedDto>;
  sessionsRevoke(req: T.SessionsRevokeRequest): Promise<T.RevokeImpactDto>;

  tokenInspect(token: string): Promise<T.Inspection>;
  tokenIntrospect(req: T.TokenRequest): Promise<T.Introspection>;
  tokenRevoke(req: T.TokenRequest): Promise<T.RevokedDto>;

  auditList(filter: T.AuditFilterDto): Promise<T.AuditPageDto>;
  securityEventsList(filter: T.AuditFilterDto): Promise<T.AuditPageDto>;
  statsGet(req: T.StatsRequest): Promise<T.StatsDto>;
  healthGet(): Promise<T.HealthDto>;
  /** Calls `onEvent` for every live event from now on (or after `afterId`). */
  eventsSubscribe(afterId: number | null, onEvent: (e: T.AdminEventDto) => void): Promise<void>;

  apiKeysList(): Promise<T.ApiKeyDto[]>;
  apiKeyCreate(req: T.ApiKeyCreateRequest): Promise<T.ApiKeyCreated>;
  apiKeyRevoke(id: string): Promise<T.ApiKeyDto>;

  settingsGet(): Promise<T.SettingsDto>;
  /** A number sets a setting, `null` returns it to the server's default. */
  settingsUpdate(req: T.SettingsUpdateRequest): Promise<T.SettingsDto>;

  /** Token exchange (RFC 8693) policies: deny by default, one policy per allowance. */
  exchangePoliciesList(): Promise<T.ExchangePolicyDto[]>;
  exchangePolicyGet(id: string): Promise<T.ExchangePolicyDto>;
  exchangePolicyCreate(req: T.ExchangePolicyCreateRequest): Promise<T.ExchangePolicyDto>;
  exchangePolicyUpdate(id: string, req: T.ExchangePolicyUpdateRequest): Promise<T.ExchangePolicyDto>;
  exchangePolicyDelete(id: string): Promise<void>;
  /** Dry run through the server's own evaluation: which policy allows the exchange and
   * the claims of the token it would issue, or the rule that refuses it. Nothing is issued. */
  exchangePolicyExplain(req: T.ExchangeExplainRequest): Promise<T.ExchangeExplainDto>;

  /** Findings of the anomaly detections, newest first. */
  findingsList(filter: T.FindingFilterDto): Promise<T.FindingDto[]>;
  findingGet(id: string): Promise<T.FindingDto>;
  findingAck(id: string): Promise<T.FindingDto>;
  blocksList(): Promise<T.BlockDto[]>;
  blockAdd(req: T.BlockAddRequest): Promise<T.BlockDto>;
  blockRemove(req: T.BlockRemoveRequest): Promise<void>;
  securityProfileGet(q: T.SecurityProfileQuery): Promise<T.SecurityProfileDto>;

  /** Webhooks told of findings, with their delivery state. */
  webhooksList(): Promise<T.WebhookDto[]>;
  /** The answer's `secret` is shown once (SecretDialog) and never again. */
  webhookCreate(req: T.WebhookCreateRequest): Promise<T.WebhookCreated>;
  webhookGet(id: string): Promise<T.WebhookDto>;
  webhookUpdate(id: string, req: T.WebhookUpdateRequest): Promise<T.WebhookDto>;
  webhookDelete(id: string): Promise<void>;
  /** Sends a signed test event now; what the endpoint answered. */
  webhookTest(id: string): Promise<T.WebhookTestDto>;

  /** Backs up an embedded store to a new file; a remote connection answers `forbidden`. */
  backupCreate(req: T.BackupCreateRequest): Promise<T.BackupCreatedDto>;
  /** Initial access tokens for dynamic client registration (RFC 7591), never the tokens. */
  registrationTokensList(): Promise<T.RegistrationTokenDto[]>;
  /** The answer's `token` is shown once (SecretDialog) and never again. */
  registrationTokenCreate(req: T.RegistrationTokenCreateRequest): Promise<T.RegistrationTokenCreated>;
  registrationTokenRevoke(id: string): Promise<void>;

  /** The connected server's configuration as a sorted YAML document (secrets as references). */
  configExport(): Promise<T.ConfigExportDto>;
  /** What applying a document would create, change and delete; nothing is written. */
  configPlan(req: T.ConfigPlanRequest): Promise<T.ConfigPlanDto>;
  /** Applies a document in one transaction (the CLI's `latchkey config apply`). */
  configApply(req: T.ConfigApplyRequest): Promise<T.ConfigAppliedDto>;
}

// Every admin operation of the op table (operations.gen.ts) must be a method above:
// svelte-check names the missing ones here.
type MissingOps = Exclude<CamelOp<AdminOpName>, keyof AdminApi>;
export const everyAdminOpIsAMethod: [MissingOps] extends [never] ? true : MissingOps = true;

/** Every failure the UI shows: a human message and the stable code behind it. */
export class ApiError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
}

/** Anything thrown by the backend (an `{code, message}` object, a string from the
 * IPC layer itself such as "command not allowed", or an Error) as an ApiError. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const o = e as { code: unknown; message: unknown };
    return new ApiError(String(o.code), String(o.message));
  }
  if (typeof e === 'string') return new ApiError('ipc', e);
  if (e instanceof Error) return new ApiError('internal', e.message);
  return new ApiError('internal', 'something went wrong');
}
