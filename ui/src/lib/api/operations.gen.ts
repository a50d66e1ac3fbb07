// Generated from crates/latchkey-api-types/src/ops.rs (the one list of admin
// operations). Do not edit: run `LATCHKEY_UPDATE_TS=1 cargo test -p latchkey-api-types`
// after changing it.
/* eslint-disable */

/** Every admin operation's name: the AdminBackend method, the IPC command, the
 * OpenAPI operationId. */
export type AdminOpName =
  | 'health_get'
  | 'clients_list'
  | 'client_create'
  | 'client_get'
  | 'client_update'
  | 'client_delete'
  | 'client_rotate_secret'
  | 'client_set_disabled'
  | 'client_impact_get'
  | 'client_clone'
  | 'scopes_list'
  | 'scope_create'
  | 'scope_delete'
  | 'users_list'
  | 'user_create'
  | 'user_get'
  | 'user_disable'
  | 'user_enable'
  | 'user_update'
  | 'user_password_set'
  | 'user_impact_get'
  | 'user_delete'
  | 'keys_list'
  | 'keys_rotate'
  | 'keys_schedule_get'
  | 'key_revoke'
  | 'jwks_get'
  | 'sessions_list'
  | 'sessions_revoke'
  | 'session_get'
  | 'session_revoke'
  | 'token_introspect'
  | 'token_revoke'
  | 'audit_list'
  | 'security_events_list'
  | 'stats_get'
  | 'events_subscribe'
  | 'api_keys_list'
  | 'api_key_create'
  | 'api_key_revoke'
  | 'settings_get'
  | 'exchange_policies_list'
  | 'exchange_policy_create'
  | 'exchange_policy_explain'
  | 'exchange_policy_get'
  | 'exchange_policy_update'
  | 'exchange_policy_delete'
  | 'settings_update'
  | 'findings_list'
  | 'finding_get'
  | 'finding_ack'
  | 'blocks_list'
  | 'block_add'
  | 'block_remove'
  | 'security_profile_get'
  | 'webhooks_list'
  | 'webhook_create'
  | 'webhook_get'
  | 'webhook_update'
  | 'webhook_delete'
  | 'webhook_test'
  | 'backup_create'
  | 'registration_tokens_list'
  | 'registration_token_create'
  | 'registration_token_revoke'
  | 'config_export'
  | 'config_plan'
  | 'config_apply'
;

export interface AdminOp {
  name: AdminOpName;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  /** `open`: no credential; `write`: a read-write credential. */
  access: 'open' | 'read' | 'write';
}

export const ADMIN_OPS: readonly AdminOp[] = [
  { name: 'health_get', method: 'GET', path: '/admin/v1/health', access: 'open' },
  { name: 'clients_list', method: 'GET', path: '/admin/v1/clients', access: 'read' },
  { name: 'client_create', method: 'POST', path: '/admin/v1/clients', access: 'write' },
  { name: 'client_get', method: 'GET', path: '/admin/v1/clients/{id}', access: 'read' },
  { name: 'client_update', method: 'PATCH', path: '/admin/v1/clients/{id}', access: 'write' },
  { name: 'client_delete', method: 'DELETE', path: '/admin/v1/clients/{id}', access: 'write' },
  { name: 'client_rotate_secret', method: 'POST', path: '/admin/v1/clients/{id}/rotate-secret', access: 'write' },
  { name: 'client_set_disabled', method: 'POST', path: '/admin/v1/clients/{id}/disabled', access: 'write' },
  { name: 'client_impact_get', method: 'GET', path: '/admin/v1/clients/{id}/impact', access: 'read' },
  { name: 'client_clone', method: 'POST', path: '/admin/v1/clients/{id}/clone', access: 'write' },
  { name: 'scopes_list', method: 'GET', path: '/admin/v1/scopes', access: 'read' },
  { name: 'scope_create', method: 'POST', path: '/admin/v1/scopes', access: 'write' },
  { name: 'scope_delete', method: 'DELETE', path: '/admin/v1/scopes/{name}', access: 'write' },
  { name: 'users_list', method: 'GET', path: '/admin/v1/users', access: 'read' },
  { name: 'user_create', method: 'POST', path: '/admin/v1/users', access: 'write' },
  { name: 'user_get', method: 'GET', path: '/admin/v1/users/{id}', access: 'read' },
  { name: 'user_disable', method: 'POST', path: '/admin/v1/users/{id}/disable', access: 'write' },
  { name: 'user_enable', method: 'POST', path: '/admin/v1/users/{id}/enable', access: 'write' },
  { name: 'user_update', method: 'PATCH', path: '/admin/v1/users/{id}', access: 'write' },
  { name: 'user_password_set', method: 'POST', path: '/admin/v1/users/{id}/password', access: 'write' },
  { name: 'user_impact_get', method: 'GET', path: '/admin/v1/users/{id}/impact', access: 'read' },
  { name: 'user_delete', method: 'DELETE', path: '/admin/v1/users/{id}', access: 'write' },
  { name: 'keys_list', method: 'GET', path: '/admin/v1/keys', access: 'read' },
  { name: 'keys_rotate', method: 'POST', path: '/admin/v1/keys/rotate', access: 'write' },
  { name: 'keys_schedule_get', method: 'GET', path: '/admin/v1/keys/schedule', access: 'read' },
  { name: 'key_revoke', method: 'POST', path: '/admin/v1/keys/{kid}/revoke', access: 'write' },
  { name: 'jwks_get', method: 'GET', path: '/admin/v1/jwks', access: 'read' },
  { name: 'sessions_list', method: 'GET', path: '/admin/v1/sessions', access: 'read' },
  { name: 'sessions_revoke', method: 'POST', path: '/admin/v1/sessions/revoke', access: 'write' },
  { name: 'session_get', method: 'GET', path: '/admin/v1/sessions/{id}', access: 'read' },
  { name: 'session_revoke', method: 'POST', path: '/admin/v1/sessions/{id}/revoke', access: 'write' },
  { name: 'token_introspect', method: 'POST', path: '/admin/v1/tokens/introspect', access: 'read' },
  { name: 'token_revoke', method: 'POST', path: '/admin/v1/tokens/revoke', access: 'write' },
  { name: 'audit_list', method: 'GET', path: '/admin/v1/audit', access: 'read' },
  { name: 'security_events_list', method: 'GET', path: '/admin/v1/security-events', access: 'read' },
  { name: 'stats_get', method: 'GET', path: '/admin/v1/stats', access: 'read' },
  { name: 'events_subscribe', method: 'GET', path: '/admin/v1/events', access: 'read' },
  { name: 'api_keys_list', method: 'GET', path: '/admin/v1/api-keys', access: 'read' },
  { name: 'api_key_create', method: 'POST', path: '/admin/v1/api-keys', access: 'write' },
  { name: 'api_key_revoke', method: 'POST', path: '/admin/v1/api-keys/{id}/revoke', access: 'write' },
  { name: 'settings_get', method: 'GET', path: '/admin/v1/settings', access: 'read' },
  { name: 'exchange_policies_list', method: 'GET', path: '/admin/v1/exchange-policies', access: 'read' },
  { name: 'exchange_policy_create', method: 'POST', path: '/admin/v1/exchange-policies', access: 'write' },
  { name: 'exchange_policy_explain', method: 'POST', path: '/admin/v1/exchange-policies/explain', access: 'read' },
  { name: 'exchange_policy_get', method: 'GET', path: '/admin/v1/exchange-policies/{id}', access: 'read' },
  { name: 'exchange_policy_update', method: 'PATCH', path: '/admin/v1/exchange-policies/{id}', access: 'write' },
  { name: 'exchange_policy_delete', method: 'DELETE', path: '/admin/v1/exchange-policies/{id}', access: 'write' },
  { name: 'settings_update', method: 'PATCH', path: '/admin/v1/settings', access: 'write' },
  { name: 'findings_list', method: 'GET', path: '/admin/v1/findings', access: 'read' },
  { name: 'finding_get', method: 'GET', path: '/admin/v1/findings/{id}', access: 'read' },
  { name: 'finding_ack', method: 'POST', path: '/admin/v1/findings/{id}/ack', access: 'write' },
  { name: 'blocks_list', method: 'GET', path: '/admin/v1/blocks', access: 'read' },
  { name: 'block_add', method: 'POST', path: '/admin/v1/blocks', access: 'write' },
  { name: 'block_remove', method: 'POST', path: '/admin/v1/blocks/remove', access: 'write' },
  { name: 'security_profile_get', method: 'GET', path: '/admin/v1/security/profile', access: 'read' },
  { name: 'webhooks_list', method: 'GET', path: '/admin/v1/webhooks', access: 'read' },
  { name: 'webhook_create', method: 'POST', path: '/admin/v1/webhooks', access: 'write' },
  { name: 'webhook_get', method: 'GET', path: '/admin/v1/webhooks/{id}', access: 'read' },
  { name: 'webhook_update', method: 'PATCH', path: '/admin/v1/webhooks/{id}', access: 'write' },
  { name: 'webhook_delete', method: 'DELETE', path: '/admin/v1/webhooks/{id}', access: 'write' },
  { name: 'webhook_test', method: 'POST', path: '/admin/v1/webhooks/{id}/test', access: 'write' },
  { name: 'backup_create', method: 'POST', path: '/admin/v1/backup', access: 'write' },
  { name: 'registration_tokens_list', method: 'GET', path: '/admin/v1/registration-tokens', access: 'read' },
  { name: 'registration_token_create', method: 'POST', path: '/admin/v1/registration-tokens', access: 'write' },
  { name: 'registration_token_revoke', method: 'POST', path: '/admin/v1/registration-tokens/{id}/revoke', access: 'write' },
  { name: 'config_export', method: 'GET', path: '/admin/v1/config', access: 'read' },
  { name: 'config_plan', method: 'POST', path: '/admin/v1/config/plan', access: 'read' },
  { name: 'config_apply', method: 'POST', path: '/admin/v1/config/apply', access: 'write' },
];
