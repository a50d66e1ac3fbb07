// The only module that imports @tauri-apps/*: the AdminApi over Tauri IPC. Arguments
// travel in snake_case, as the Rust commands declare them.
import { Channel, invoke } from '@tauri-apps/api/core';
import type { AdminApi } from './api';
import { toApiError } from './api';
import type { AdminEventDto } from './types';
import type { AdminOpName } from './api/operations.gen';

/** The shell's own commands, besides the admin operations (src-tauri's `with_commands!`). */
type ShellCommand =
  | 'console_status'
  | 'first_admin_password_take'
  | 'connections_list'
  | 'connection_open'
  | 'connection_add'
  | 'connection_update'
  | 'connection_remove'
  | 'client_try'
  | 'token_inspect';

/** Every IPC command: a typo or a command the shell does not have fails svelte-check. */
export type Command = AdminOpName | ShellCommand;

async function call<R>(cmd: Command, args?: Record<string, unknown>): Promise<R> {
  try {
    return await invoke<R>(cmd, args);
  } catch (e) {
    throw toApiError(e);
  }
}

export function tauriApi(): AdminApi {
  return {
    consoleStatus: () => call('console_status'),
    firstAdminPasswordTake: () => call('first_admin_password_take'),

    connectionsList: () => call('connections_list'),
    connectionOpen: (id, apiKey) => call('connection_open', { id, api_key: apiKey ?? null }),
    connectionAdd: (req) => call('connection_add', { req }),
    connectionUpdate: (id, name, colour) => call('connection_update', { id, name: name ?? null, colour: colour ?? null }),
    connectionRemove: (id) => call('connection_remove', { id }),

    clientsList: () => call('clients_list'),
    clientGet: (id) => call('client_get', { id }),
    clientCreate: (req) => call('client_create', { req }),
    clientUpdate: (id, req) => call('client_update', { id, req }),
    clientDelete: (id) => call('client_delete', { id }),
    clientRotateSecret: (id, req) => call('client_rotate_secret', { id, req }),
    clientSetDisabled: (id, disabled) => call('client_set_disabled', { id, disabled }),
    clientImpactGet: (id) => call('client_impact_get', { id }),
    clientClone: (id, req) => call('client_clone', { id, req }),
    clientTry: (req) => call('client_try', { req }),

    scopesList: () => call('scopes_list'),
    scopeCreate: (req) => call('scope_create', { req }),
    scopeDelete: (name) => call('scope_delete', { name }),

    usersList: () => call('users_list'),
    userGet: (id) => call('user_get', { id }),
    userCreate: (req) => call('user_create', { req }),
    userDisable: (id) => call('user_disable', { id }),
    userEnable: (id) => call('user_enable', { id }),
    userUpdate: (id, req) => call('user_update', { id, req }),
    userPasswordSet: (id, req) => call('user_password_set', { id, req }),
    userImpactGet: (id) => call('user_impact_get', { id }),
    userDelete: (id) => call('user_delete', { id }),

    keysList: () => call('keys_list'),
    keysRotate: (req) => call('keys_rotate', { req }),
    keyRevoke: (kid) => call('key_revoke', { kid }),
    keysScheduleGet: () => call('keys_schedule_get'),
    jwksGet: () => call('jwks_get'),

    sessionsList: (filter) => call('sessions_list', { filter }),
    sessionGet: (id) => call('session_get', { id }),
    sessionRevoke: (id) => call('session_revoke', { id }),
    sessionsRevoke: (req) => call('sessions_revoke', { req }),

    tokenInspect: (token) => call('token_inspect', { token }),
    tokenIntrospect: (req) => call('token_introspect', { req }),
    tokenRevoke: (req) => call('token_revoke', { req }),

    auditList: (filter) => call('audit_list', { filter }),
    securityEventsList: (filter) => call('security_events_list', { filter }),
    statsGet: (req) => call('stats_get', { req }),
    healthGet: () => call('health_get'),
    eventsSubscribe: (afterId, onEvent) => {
      const ch = new Channel<AdminEventDto>();
      ch.onmessage = onEvent;
      return call('events_subscribe', { after_id: afterId, on_event: ch });
    },

    apiKeysList: () => call('api_keys_list'),
    apiKeyCreate: (req) => call('api_key_create', { req }),
    apiKeyRevoke: (id) => call('api_key_revoke', { id }),

    settingsGet: () => call('settings_get'),
    settingsUpdate: (req) => call('settings_update', { req }),

    exchangePoliciesList: () => call('exchange_policies_list'),
    exchangePolicyGet: (id) => call('exchange_policy_get', { id }),
    exchangePolicyCreate: (req) => call('exchange_policy_create', { req }),
    exchangePolicyUpdate: (id, req) => call('exchange_policy_update', { id, req }),
    exchangePolicyDelete: (id) => call('exchange_policy_delete', { id }),
    exchangePolicyExplain: (req) => call('exchange_policy_explain', { req }),

    findingsList: (filter) => call('findings_list', { filter }),
    findingGet: (id) => call('finding_get', { id }),
    findingAck: (id) => call('finding_ack', { id }),
    blocksList: () => call('blocks_list'),
    blockAdd: (req) => call('block_add', { req }),
    blockRemove: (req) => call('block_remove', { req }),
    securityProfileGet: (q) => call('security_profile_get', { q }),
    webhooksList: () => call('webhooks_list'),
    webhookCreate: (req) => call('webhook_create', { req }),
    webhookGet: (id) => call('webhook_get', { id }),
    webhookUpdate: (id, req) => call('webhook_update', { id, req }),
    webhookDelete: (id) => call('webhook_delete', { id }),
    webhookTest: (id) => call('webhook_test', { id }),
    backupCreate: (req) => call('backup_create', { req }),
    registrationTokensList: () => call('registration_tokens_list'),
    registrationTokenCreate: (req) => call('registration_token_create', { req }),
    registrationTokenRevoke: (id) => call('registration_token_revoke', { id }),
    configExport: () => call('config_export'),
    configPlan: (req) => call('config_plan', { req }),
    configApply: (req) => call('config_apply', { req }),
  };
}
