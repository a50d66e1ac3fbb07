//! Configuration as code (issue 16): the store's configuration — clients, custom scopes,
//! users' profiles and administrator role, token exchange policies and the admin-set
//! runtime settings (detections included) — as one YAML document, and the plan and
//! apply of such a document.
//!
//! Owns: the document (format 1: sorted keys, every item under its id, so an export is
//! byte-for-byte deterministic), overlays (later files merged over the base), secret
//! references (`${env:NAME}`, `${file:PATH}`: a document never holds a secret), the plan
//! (create / change field by field / delete, deletions skipped without `prune`), drift
//! since the last apply (a fingerprint of the export the apply left, in the `meta`
//! table), and the apply: every item checked first with the rules of the single admin
//! operations (`client_patched`, `validate_client`, `check_exchange_policy`,
//! `validate_settings`, …), then one store transaction (`ConfigStore::config_apply`)
//! with each item's own audit event and one `config.apply` event for the batch.
//!
//! Does not own: resolving the references (the caller does it where it runs: the CLI
//! reads its environment and files; a server never reads its own for a request), YAML
//! files on disk, or presentation (`render_plan` is the one text form, shared by the CLI).
//! Not managed here: the built-in console client and scopes, clients registered
//! dynamically (RFC 7591: they belong to their apps), passwords, keys, sessions, API
//! keys, webhooks and blocks. Users are never deleted (no admin operation does).

use super::clients::{client_patched, ttl_fits_rotation};
use super::exchange_policies::{check_exchange_policy, policy_from_new, policy_patched};
use super::*;
use crate::store::{ConfigBatch, ConfigWrite};
use latchkey_api_types::{
    ConfigChangeDto, ConfigDriftDto, ConfigFieldChangeDto, ConfigFileDto, ConfigPlanDto,
};
use serde::{Deserialize, Serialize};

/// The document format this build reads and writes (`version:`).
pub const CONFIG_FORMAT: u32 = 1;
/// The `meta` row holding the last apply: fingerprint, time and actor.
const META_KEY: &str = "config_applied";
/// A configured client secret must be at least this long (a generated one is 43).
pub const MIN_CONFIG_SECRET_CHARS: usize = 32;
const HEADER: &str =
    "# Latchkey configuration (format 1). Plan it with `latchkey config plan -f FILE`,\n\
# apply it with `latchkey config apply -f FILE`. Secrets are never in this file, only\n\
# references (${env:NAME}, ${file:PATH}) resolved where the plan or apply runs.\n";

/// One section's items by key; `null` (from an overlay) removes the item the base had.
type Section<T> = Option<BTreeMap<String, Option<T>>>;

/// The whole document. A missing section is not managed (left as it is); an empty one
/// (`clients: {}`) is, and says there are none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Section<ClientDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_policies: Section<PolicyDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Section<ScopeDoc>,
    /// Admin-set runtime settings by name (detections included); a setting not listed
    /// is at its default (deleted from the store only with `prune`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<BTreeMap<String, Option<i64>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Section<UserDoc>,
}

/// A client. On create, a missing field takes the admin API's default; on update, it
/// stays as it is. Fields in alphabetical order, as they are written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_tool: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertion_aud_compat: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_bound_access_tokens: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_grace_secs: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_idle_ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_consent: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pushed_authorization_requests: Option<bool>,
    /// A reference (`${env:NAME}` or `${file:PATH}`), never the secret itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A user, by username. Never a password: a user created here has none until an
/// administrator sets one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_client_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_token_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_act_depth: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ttl_secs: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester_client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester_must_be_in_subject_aud: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_client_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_token_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<String>>,
}

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `${env:NAME}`
    Env(String),
    /// `${file:PATH}` (the file's content without its trailing newline)
    File(String),
}

impl SecretRef {
    /// `${env:NAME}` (NAME: letters, digits, `_`, not starting with a digit) or
    /// `${file:PATH}` (PATH not empty); anything else is not a reference.
    pub fn parse(s: &str) -> Option<SecretRef> {
        let inner = s.trim().strip_prefix("${")?.strip_suffix('}')?;
        if let Some(name) = inner.strip_prefix("env:") {
            let ok = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            return ok.then(|| SecretRef::Env(name.to_string()));
        }
        let path = inner.strip_prefix("file:")?;
        (!path.is_empty() && !path.contains('}')).then(|| SecretRef::File(path.to_string()))
    }
}

/// The reference an export writes for a client's secret: `${env:LATCHKEY_CLIENT_SECRET_<ID>}`
/// with the id upper-cased and anything but letters and digits as `_`.
pub fn default_secret_reference(client_id: &str) -> String {
    let name: String = client_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("${{env:LATCHKEY_CLIENT_SECRET_{name}}}")
}

fn invalid_at(path: &str) -> impl Fn(ManageError) -> ManageError + '_ {
    move |e| match e {
        ManageError::InvalidInput(m) => ManageError::InvalidInput(format!("{path}: {m}")),
        ManageError::Builtin(m) | ManageError::Conflict(m) => {
            ManageError::InvalidInput(format!("{path}: {m}"))
        }
        other => other,
    }
}

fn yaml_error(e: yaml_serde::Error) -> String {
    // The parser names the path (`clients.web: unknown field …`) and the line.
    e.to_string()
}

/// Overlays: a mapping merges key by key (recursively), `null` removes the key, and
/// anything else (a list, a scalar) replaces what the base had.
fn merge(base: yaml_serde::Value, over: yaml_serde::Value) -> yaml_serde::Value {
    use yaml_serde::Value as Y;
    match (base, over) {
        (Y::Mapping(mut b), Y::Mapping(o)) => {
            for (k, v) in o {
                if v.is_null() {
                    b.remove(&k);
                    continue;
                }
                let merged = match b.remove(&k) {
                    Some(old) => merge(old, v),
                    None => v,
                };
                b.insert(k, merged);
            }
            Y::Mapping(b)
        }
        (_, o) => o,
    }
}

/// The document the files make, the base first and each overlay merged over it. Every
/// error names the file and the path of the offending item.
pub fn parse_documents(files: &[ConfigFileDto]) -> ManageResult<ConfigDoc> {
    if files.is_empty() {
        return Err(ManageError::invalid("no configuration file was given"));
    }
    let mut merged: Option<yaml_serde::Value> = None;
    for f in files {
        let name = shown(&f.name);
        // Each file on its own first, for errors with its own lines.
        yaml_serde::from_str::<ConfigDoc>(&f.yaml)
            .map_err(|e| ManageError::invalid(format!("{name}: {}", yaml_error(e))))?;
        let v: yaml_serde::Value = yaml_serde::from_str(&f.yaml)
            .map_err(|e| ManageError::invalid(format!("{name}: {}", yaml_error(e))))?;
        merged = Some(match merged {
            None => v,
            Some(base) => merge(base, v),
        });
    }
    let merged = merged.unwrap_or(yaml_serde::Value::Null);
    let doc: ConfigDoc = yaml_serde::from_value(merged).map_err(|e| {
        ManageError::invalid(format!(
            "the document merged from the overlays: {}",
            yaml_error(e)
        ))
    })?;
    match doc.version {
        Some(CONFIG_FORMAT) => {}
        Some(v) => {
            return Err(ManageError::invalid(format!(
                "version: this is format {v}; this latchkey reads format {CONFIG_FORMAT}"
            )))
        }
        None => {
            return Err(ManageError::invalid(format!(
                "version: missing (write `version: {CONFIG_FORMAT}` at the top)"
            )))
        }
    }
    for (id, c) in doc.clients.iter().flatten() {
        if let Some(Some(r)) = c.as_ref().map(|c| &c.secret) {
            if SecretRef::parse(r).is_none() {
                return Err(ManageError::invalid(format!(
                    "clients.{}.secret: must be a reference, ${{env:NAME}} or ${{file:PATH}}; \
                     a secret is never written in the file",
                    shown(id)
                )));
            }
        }
    }
    Ok(doc)
}

impl ConfigDoc {
    /// Every secret reference, with the path of the item that holds it.
    pub fn secret_references(&self) -> Vec<(String, String)> {
        self.clients
            .iter()
            .flatten()
            .filter_map(|(id, c)| {
                let r = c.as_ref()?.secret.as_ref()?;
                Some((format!("clients.{id}.secret"), r.clone()))
            })
            .collect()
    }
}

// --- the state a document describes ----------------------------------------------------

/// What a document covers, as the store holds (or will hold) it.
#[derive(Debug, Clone, Default)]
struct State {
    /// Managed clients (not the console, not dynamically registered ones).
    clients: Vec<Client>,
    /// Custom scopes.
    scopes: Vec<Scope>,
    users: Vec<User>,
    policies: Vec<ExchangePolicy>,
    settings: BTreeMap<String, i64>,
}

fn is_secret_client(c: &Client) -> bool {
    c.client_type == ClientType::Confidential && is_secret_based(c.auth_method)
}

fn managed_client(c: &Client) -> bool {
    !is_builtin_client(c) && !c.registered
}

fn client_doc(c: &Client) -> ClientDoc {
    ClientDoc {
        access_token_ttl: Some(c.access_token_ttl),
        admin_tool: Some(c.admin_tool),
        allowed_origins: c.allowed_origins.clone(),
        allowed_scopes: Some(c.allowed_scopes.clone()),
        assertion_aud_compat: Some(c.assertion_aud_compat),
        auth_method: Some(c.auth_method.as_str().to_string()),
        client_type: Some(c.client_type.as_str().to_string()),
        disabled: Some(c.disabled),
        dpop_bound_access_tokens: Some(c.dpop_bound_access_tokens),
        grant_types: Some(
            c.grant_types
                .iter()
                .map(|g| g.as_str().to_string())
                .collect(),
        ),
        jwks: c
            .jwks
            .as_deref()
            .map(|j| serde_json::from_str(j).unwrap_or_else(|_| Value::String(j.to_string()))),
        jwks_uri: c.jwks_uri.clone(),
        name: Some(c.name.clone()),
        post_logout_redirect_uris: Some(c.post_logout_redirect_uris.clone()),
        redirect_uris: Some(c.redirect_uris.clone()),
        refresh_grace_secs: Some(c.refresh_grace_secs),
        refresh_idle_ttl: Some(c.refresh_idle_ttl),
        refresh_token_ttl: Some(c.refresh_token_ttl),
        require_consent: Some(c.require_consent),
        require_pushed_authorization_requests: Some(c.require_pushed_authorization_requests),
        secret: is_secret_client(c).then(|| default_secret_reference(&c.id)),
    }
}

fn scope_doc(s: &Scope) -> ScopeDoc {
    ScopeDoc {
        claims: Some(s.claims.clone()),
        description: Some(s.description.clone()),
    }
}

fn user_doc(u: &User) -> UserDoc {
    UserDoc {
        admin: Some(u.is_admin),
        email: u.email.clone(),
        name: u.name.clone(),
    }
}

fn policy_doc(p: &ExchangePolicy) -> PolicyDoc {
    let short = |v: &[TokenTypeUri]| v.iter().map(|t| t.short().to_string()).collect();
    PolicyDoc {
        actor_client_ids: Some(p.actor_client_ids.clone()),
        enabled: Some(p.enabled),
        issued_token_types: Some(short(&p.issued_token_types)),
        max_act_depth: Some(p.max_act_depth),
        max_ttl_secs: Some(p.max_ttl_secs),
        mode: Some(p.mode.to_string()),
        note: Some(p.note.clone()),
        requester_client_id: Some(p.requester_client_id.clone()),
        requester_must_be_in_subject_aud: Some(p.requester_must_be_in_subject_aud),
        scopes: Some(p.scopes.clone()),
        subject_client_ids: Some(p.subject_client_ids.clone()),
        subject_token_types: Some(short(&p.subject_token_types)),
        targets: Some(p.targets.clone()),
    }
}

fn section<T, U>(items: &[T], key: impl Fn(&T) -> String, f: impl Fn(&T) -> U) -> Section<U> {
    Some(items.iter().map(|i| (key(i), Some(f(i)))).collect())
}

impl State {
    fn document(&self) -> ConfigDoc {
        ConfigDoc {
            version: Some(CONFIG_FORMAT),
            clients: section(&self.clients, |c| c.id.clone(), client_doc),
            exchange_policies: section(&self.policies, |p| p.id.clone(), policy_doc),
            scopes: section(&self.scopes, |s| s.name.clone(), scope_doc),
            settings: Some(
                self.settings
                    .iter()
                    .filter(|(k, _)| ServerSettings::field(k).is_some())
                    .map(|(k, v)| (k.clone(), Some(*v)))
                    .collect(),
            ),
            users: section(&self.users, |u| u.username.clone(), user_doc),
        }
    }

    /// The export: sorted (maps are `BTreeMap`s, struct fields are declared in
    /// alphabetical order), so the same state always gives the same bytes.
    fn render(&self) -> ManageResult<String> {
        let body = yaml_serde::to_string(&self.document())
            .map_err(|e| ManageError::Internal(format!("cannot write the document: {e}")))?;
        Ok(format!("{HEADER}{body}"))
    }
}

fn fingerprint(yaml: &str) -> String {
    hex::encode(crypto::sha256(yaml.as_bytes()))
}

/// The fields of a document item, for field-by-field changes.
fn fields_of<T: Serialize>(item: &T) -> serde_json::Map<String, Value> {
    match serde_json::to_value(item) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

fn text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Old → new of every field that differs (the secret reference excluded: secrets are
/// compared by their hashes, not by how they are referenced).
fn diff<T: Serialize>(old: Option<&T>, new: Option<&T>) -> Vec<ConfigFieldChangeDto> {
    let o = old.map(fields_of).unwrap_or_default();
    let n = new.map(fields_of).unwrap_or_default();
    let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    keys.into_iter()
        .filter(|k| k.as_str() != "secret")
        .filter(|k| o.get(*k) != n.get(*k))
        .map(|k| ConfigFieldChangeDto {
            field: k.clone(),
            old: o.get(k).map(text),
            new: n.get(k).map(text),
        })
        .collect()
}

fn change(
    kind: &str,
    id: &str,
    action: &str,
    fields: Vec<ConfigFieldChangeDto>,
) -> ConfigChangeDto {
    ConfigChangeDto {
        kind: kind.into(),
        id: id.into(),
        action: action.into(),
        fields,
    }
}

/// A client id or policy id written in a document: what `client_id` may hold without
/// quoting trouble in URLs, forms and YAML keys.
fn check_id(path: &str, id: &str) -> ManageResult<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'));
    if ok {
        Ok(())
    } else {
        Err(ManageError::invalid(format!(
            "{path}: an id is 1 to 128 letters, digits, '-', '_', '.' or '~'"
        )))
    }
}

fn parse_field<T: std::str::FromStr>(path: &str, what: &str, v: &str) -> ManageResult<T> {
    v.trim().parse().map_err(|_| {
        ManageError::invalid(format!("{path}: \"{}\" is not a known {what}", shown(v)))
    })
}

fn parse_grants(path: &str, v: &[String]) -> ManageResult<Vec<GrantType>> {
    v.iter()
        .map(|g| parse_field(path, "grant type", g))
        .collect()
}

fn jwks_text(path: &str, v: &Value) -> ManageResult<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => serde_json::to_string(other)
            .map_err(|_| ManageError::invalid(format!("{path}.jwks: not valid JSON"))),
    }
}

/// What a plan is made from.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ConfigInput {
    pub files: Vec<ConfigFileDto>,
    /// Reference → value (never printed: `Debug` shows the references only).
    pub secrets: BTreeMap<String, String>,
    pub prune: bool,
}

impl std::fmt::Debug for ConfigInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigInput")
            .field(
                "files",
                &self.files.iter().map(|f| &f.name).collect::<Vec<_>>(),
            )
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("prune", &self.prune)
            .finish()
    }
}

/// A plan and the writes that carry it out.
#[derive(Debug, Clone)]
pub struct ConfigPrepared {
    pub plan: ConfigPlanDto,
    pub writes: Vec<ConfigWrite>,
    /// Paths of secret references a write needs and the input has no value for.
    pub missing_secrets: Vec<String>,
    /// What the `meta` row says now (`None`: never applied).
    recorded: Option<String>,
}

/// The `meta` row of the last apply.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Applied {
    fingerprint: String,
    at: Timestamp,
    by: String,
}

impl Manager {
    async fn config_state(&self) -> ManageResult<(State, i64)> {
        let clients = self
            .store
            .clients_list()
            .await?
            .into_iter()
            .filter(managed_client)
            .collect();
        let scopes = self
            .store
            .scopes_list()
            .await?
            .into_iter()
            .filter(|s| !s.builtin)
            .collect();
        let users = self.store.users_list().await?;
        let policies = self.store.exchange_policies_list().await?;
        let stored = self.store.settings_get().await?;
        Ok((
            State {
                clients,
                scopes,
                users,
                policies,
                settings: stored.values,
            },
            stored.version,
        ))
    }

    /// The configuration as a document, and its fingerprint.
    pub async fn config_export(&self) -> ManageResult<(String, String)> {
        let (state, _) = self.config_state().await?;
        let yaml = state.render()?;
        let fp = fingerprint(&yaml);
        Ok((yaml, fp))
    }

    /// What applying `input` would do; nothing is written.
    pub async fn config_plan(&self, input: &ConfigInput) -> ManageResult<ConfigPlanDto> {
        Ok(self.config_prepare("plan", input).await?.plan)
    }

    /// Applies `input` if it would do what `expected_plan` names (when given): every
    /// item checked first, then one transaction. Answers the plan and whether anything
    /// was written; a second apply of the same document writes nothing.
    pub async fn config_apply(
        &self,
        actor: &str,
        input: &ConfigInput,
        expected_plan: Option<&str>,
    ) -> ManageResult<(ConfigPlanDto, bool)> {
        let p = self.config_prepare(actor, input).await?;
        if let Some(expected) = expected_plan {
            if expected != p.plan.plan_id {
                return Err(ManageError::Conflict(
                    "the target changed since the plan was made; make the plan again".into(),
                ));
            }
        }
        if !p.missing_secrets.is_empty() {
            return Err(ManageError::invalid(format!(
                "{}: the reference has no value here (set the variable or the file where apply runs)",
                p.missing_secrets.join(", ")
            )));
        }
        let recorded_fp = p
            .recorded
            .as_deref()
            .and_then(|r| serde_json::from_str::<Applied>(r).ok())
            .map(|a| a.fingerprint);
        if p.writes.is_empty() && recorded_fp.as_deref() == Some(p.plan.fingerprint.as_str()) {
            return Ok((p.plan, false));
        }
        let now = self.now();
        let count = |a: &str| p.plan.changes.iter().filter(|c| c.action == a).count();
        let audit = self
            .audit_event(now, actor, AuditAction::ConfigApply.as_str())
            .target("config")
            .after(&json!({
                "files": input.files.iter().map(|f| &f.name).collect::<Vec<_>>(),
                "created": count("create"),
                "updated": count("update"),
                "deleted": count("delete"),
                "skipped_deletions": p.plan.skipped.len(),
                "changes": p.plan.changes.iter()
                    .map(|c| format!("{} {} {}", c.action, c.kind, c.id))
                    .collect::<Vec<_>>(),
                "fingerprint": p.plan.fingerprint,
            }));
        let meta = serde_json::to_string(&Applied {
            fingerprint: p.plan.fingerprint.clone(),
            at: now,
            by: actor.to_string(),
        })
        .map_err(|e| ManageError::Internal(format!("cannot record the apply: {e}")))?;
        let applied = !p.writes.is_empty();
        let mut writes = p.writes;
        for w in &mut writes {
            if let ConfigWrite::UserInsert { user, .. } = w {
                if user.password_hash.is_empty() {
                    user.password_hash = crypto::hash_password(&crypto::random_token())
                        .map_err(|_| ManageError::Internal("password hashing failed".into()))?;
                }
            }
        }
        self.store
            .config_apply(&ConfigBatch {
                writes,
                meta_key: META_KEY.into(),
                meta_value: meta,
                audit,
            })
            .await?;
        Ok((p.plan, applied))
    }

    /// The plan of `input` against the store and the writes that carry it out.
    pub async fn config_prepare(
        &self,
        actor: &str,
        input: &ConfigInput,
    ) -> ManageResult<ConfigPrepared> {
        let doc = parse_documents(&input.files)?;
        let (current, settings_version) = self.config_state().await?;
        let current_yaml = current.render()?;
        let current_fp = fingerprint(&current_yaml);
        let recorded = self.store.meta_get(META_KEY).await?;
        let drift = match recorded
            .as_deref()
            .and_then(|r| serde_json::from_str::<Applied>(r).ok())
        {
            Some(a) => ConfigDriftDto {
                last_applied_at: Some(a.at),
                last_applied_by: Some(a.by),
                drifted: a.fingerprint != current_fp,
            },
            None => ConfigDriftDto::default(),
        };
        let now = self.now();
        let all_scopes = self.store.scopes_list().await?;
        let all_clients = self.store.clients_list().await?;
        let mut b = Builder {
            m: self,
            actor,
            now,
            input,
            changes: Vec::new(),
            skipped: Vec::new(),
            notes: Vec::new(),
            missing: Vec::new(),
            writes: Vec::new(),
        };
        let mut desired = current.clone();

        // Settings: the values only; their rules are checked once the clients are known.
        let mut settings_changed: BTreeSet<String> = BTreeSet::new();
        if let Some(map) = &doc.settings {
            for name in map.keys() {
                if ServerSettings::field(name).is_none() {
                    return Err(ManageError::invalid(format!(
                        "settings.{}: not a setting; the settings are {}",
                        shown(name),
                        FIELDS.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
                    )));
                }
            }
            let mut values = current.settings.clone();
            for (name, v) in map.iter().filter_map(|(k, v)| v.map(|v| (k, v))) {
                let old = current.settings.get(name).copied();
                if old == Some(v) {
                    continue;
                }
                let action = if old.is_some() { "update" } else { "create" };
                b.changes.push(change(
                    "setting",
                    name,
                    action,
                    vec![ConfigFieldChangeDto {
                        field: "value".into(),
                        old: old.map(|o| o.to_string()),
                        new: Some(v.to_string()),
                    }],
                ));
                values.insert(name.clone(), v);
                settings_changed.insert(name.clone());
            }
            for (name, old) in &current.settings {
                if map.get(name).copied().flatten().is_some()
                    || ServerSettings::field(name).is_none()
                {
                    continue;
                }
                let c = change(
                    "setting",
                    name,
                    "delete",
                    vec![ConfigFieldChangeDto {
                        field: "value".into(),
                        old: Some(old.to_string()),
                        new: Some("(default)".into()),
                    }],
                );
                if input.prune {
                    b.changes.push(c);
                    values.remove(name);
                    settings_changed.insert(name.clone());
                } else {
                    b.skipped.push(c);
                }
            }
            if !settings_changed.is_empty() {
                let describe = |vals: &BTreeMap<String, i64>| -> Value {
                    settings_changed
                        .iter()
                        .map(|n| (n.clone(), json!(vals.get(n))))
                        .collect::<serde_json::Map<_, _>>()
                        .into()
                };
                let audit = self
                    .audit_event(now, actor, AuditAction::SettingsUpdate.as_str())
                    .target("settings")
                    .before(&describe(&current.settings))
                    .after(&describe(&values));
                b.writes.push(ConfigWrite::Settings {
                    values: values.clone(),
                    expected_version: settings_version,
                    at: now,
                    audit,
                });
            }
            desired.settings = values;
        }
        let effective = ServerSettings::effective(&self.policy.defaults, &desired.settings);

        // Scopes.
        let mut scope_deletes = Vec::new();
        if let Some(map) = &doc.scopes {
            let mut out = Vec::new();
            for (name, sd) in map.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k, v))) {
                let path = format!("scopes.{name}");
                if all_scopes.iter().any(|s| s.builtin && &s.name == name) {
                    return Err(ManageError::invalid(format!(
                        "{path}: a built-in scope is not configured here"
                    )));
                }
                let cur = current.scopes.iter().find(|s| &s.name == name);
                let input_scope = NewScope {
                    name: name.clone(),
                    description: sd
                        .description
                        .clone()
                        .or_else(|| cur.map(|c| c.description.clone()))
                        .unwrap_or_default(),
                    claims: sd
                        .claims
                        .clone()
                        .or_else(|| cur.map(|c| c.claims.clone()))
                        .unwrap_or_default(),
                };
                validate_scope(&input_scope).map_err(invalid_at(&path))?;
                let scope = Scope {
                    name: name.clone(),
                    description: input_scope.description.trim().to_string(),
                    claims: dedup(&input_scope.claims),
                    builtin: false,
                    created_at: cur.map_or(now, |c| c.created_at),
                };
                match cur {
                    None => {
                        b.changes.push(change(
                            "scope",
                            name,
                            "create",
                            diff(None, Some(&scope_doc(&scope))),
                        ));
                        let audit = self
                            .audit_event(now, actor, AuditAction::ScopeCreate.as_str())
                            .target(name.clone())
                            .after(&scope);
                        b.writes.push(ConfigWrite::ScopeInsert {
                            scope: scope.clone(),
                            audit,
                        });
                    }
                    Some(c) if *c != scope => {
                        b.changes.push(change(
                            "scope",
                            name,
                            "update",
                            diff(Some(&scope_doc(c)), Some(&scope_doc(&scope))),
                        ));
                        let audit = self
                            .audit_event(now, actor, AuditAction::ScopeUpdate.as_str())
                            .target(name.clone())
                            .before(c)
                            .after(&scope);
                        b.writes.push(ConfigWrite::ScopeUpdate {
                            scope: scope.clone(),
                            audit,
                        });
                    }
                    Some(_) => {}
                }
                out.push(scope);
            }
            for s in &current.scopes {
                if map.get(&s.name).is_some_and(Option::is_some) {
                    continue;
                }
                let c = change("scope", &s.name, "delete", diff(Some(&scope_doc(s)), None));
                if input.prune {
                    b.changes.push(c);
                    let audit = self
                        .audit_event(now, actor, AuditAction::ScopeDelete.as_str())
                        .target(s.name.clone())
                        .before(s);
                    scope_deletes.push(ConfigWrite::ScopeDelete {
                        name: s.name.clone(),
                        audit,
                    });
                } else {
                    b.skipped.push(c);
                    out.push(s.clone());
                }
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            desired.scopes = out;
        }
        let scope_names: BTreeSet<String> = all_scopes
            .iter()
            .filter(|s| s.builtin)
            .map(|s| s.name.clone())
            .chain(desired.scopes.iter().map(|s| s.name.clone()))
            .collect();

        // Users (never deleted).
        if let Some(map) = &doc.users {
            let had_admin = current.users.iter().any(|u| u.is_admin && !u.disabled);
            let mut users = current.users.clone();
            for (username, ud) in map.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k, v))) {
                let path = format!("users.{username}");
                let email = match &ud.email {
                    Some(e) if !e.trim().is_empty() => {
                        validate_email(e.trim()).map_err(invalid_at(&path))?;
                        Some(e.trim().to_string())
                    }
                    Some(_) => None,
                    None => None,
                };
                let name = match &ud.name {
                    Some(n) => super::users::clean_name(n.clone()).map_err(invalid_at(&path))?,
                    None => None,
                };
                match users.iter_mut().find(|u| &u.username == username) {
                    Some(u) => {
                        let before = u.clone();
                        if ud.name.is_some() {
                            u.name = name;
                        }
                        if ud.email.is_some() {
                            if u.email != email {
                                u.email_verified = false;
                            }
                            u.email = email;
                        }
                        if let Some(a) = ud.admin {
                            u.is_admin = a;
                        }
                        if *u != before {
                            b.changes.push(change(
                                "user",
                                username,
                                "update",
                                diff(Some(&user_doc(&before)), Some(&user_doc(u))),
                            ));
                            let audit = self
                                .audit_event(now, actor, AuditAction::UserUpdate.as_str())
                                .target(u.id.clone())
                                .before(&before)
                                .after(&*u);
                            b.writes.push(ConfigWrite::UserUpdate {
                                user: u.clone(),
                                audit,
                            });
                        }
                    }
                    None => {
                        validate_username(username).map_err(invalid_at(&path))?;
                        // No password: the apply gives it a random one nobody knows
                        // (hashed there, not for every plan) until an administrator
                        // sets one.
                        let password_hash = String::new();
                        let user = User {
                            id: crypto::random_id(),
                            username: username.clone(),
                            email,
                            email_verified: false,
                            name,
                            password_hash,
                            disabled: false,
                            is_admin: ud.admin.unwrap_or(false),
                            password_changed_at: now,
                            created_at: now,
                            must_change_password: false,
                        };
                        b.changes.push(change(
                            "user",
                            username,
                            "create",
                            diff(None, Some(&user_doc(&user))),
                        ));
                        b.notes.push(format!(
                            "users.{username}: created without a password; set one with \
                             `latchkey admin users set-password {username} --generate`"
                        ));
                        let audit = self
                            .audit_event(now, actor, AuditAction::UserCreate.as_str())
                            .target(user.id.clone())
                            .after(&user);
                        b.writes.push(ConfigWrite::UserInsert {
                            user: user.clone(),
                            audit,
                        });
                        users.push(user);
                    }
                }
            }
            if had_admin && !users.iter().any(|u| u.is_admin && !u.disabled) {
                return Err(ManageError::invalid(
                    "users: the document leaves no enabled administrator; without one nobody \
                     could sign in to administer the server",
                ));
            }
            users.sort_by(|a, b| a.username.cmp(&b.username));
            desired.users = users;
        }

        // Clients.
        let mut client_deletes = Vec::new();
        let mut deleted_clients: BTreeSet<String> = BTreeSet::new();
        if let Some(map) = &doc.clients {
            let mut out = Vec::new();
            for (id, cd) in map.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k, v))) {
                let path = format!("clients.{id}");
                check_id(&path, id)?;
                let existing = all_clients.iter().find(|c| &c.id == id);
                if let Some(e) = existing {
                    if !managed_client(e) {
                        return Err(ManageError::invalid(format!(
                            "{path}: {} is not configured here",
                            if is_builtin_client(e) {
                                "the built-in console client"
                            } else {
                                "a client that registered itself (RFC 7591)"
                            }
                        )));
                    }
                } else if id == CONSOLE_CLIENT_ID {
                    return Err(ManageError::invalid(format!(
                        "{path}: the built-in console client is not configured here"
                    )));
                }
                let c = b.client(&path, id, cd, existing, &effective).await?;
                for s in &c.allowed_scopes {
                    if !scope_names.contains(s) {
                        return Err(ManageError::invalid(format!(
                            "{path}.allowed_scopes: scope \"{}\" does not exist (nor is it in the document)",
                            shown(s)
                        )));
                    }
                }
                out.push(c);
            }
            for c in &current.clients {
                if map.get(&c.id).is_some_and(Option::is_some) {
                    continue;
                }
                let ch = change("client", &c.id, "delete", diff(Some(&client_doc(c)), None));
                if input.prune {
                    b.changes.push(ch);
                    deleted_clients.insert(c.id.clone());
                    let audit = self
                        .audit_event(now, actor, AuditAction::ClientDelete.as_str())
                        .target(c.id.clone())
                        .before(c);
                    client_deletes.push(ConfigWrite::ClientDelete {
                        id: c.id.clone(),
                        audit,
                    });
                } else {
                    b.skipped.push(ch);
                    out.push(c.clone());
                }
            }
            out.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
            desired.clients = out;
        }
        // Clients the scopes section leaves without a scope they allow.
        if doc.scopes.is_some() {
            for c in &desired.clients {
                if let Some(s) = c.allowed_scopes.iter().find(|s| !scope_names.contains(*s)) {
                    return Err(ManageError::invalid(format!(
                        "scopes.{}: client {} still allows it; remove it there too",
                        shown(s),
                        shown(&c.id)
                    )));
                }
            }
        }

        // Exchange policies, against the clients the document leaves.
        let lookup_clients: BTreeMap<String, Client> = all_clients
            .iter()
            .filter(|c| !managed_client(c))
            .chain(desired.clients.iter())
            .map(|c| (c.id.clone(), c.clone()))
            .collect();
        let lookup = |id: &str| lookup_clients.get(id).cloned();
        let mut policy_deletes = Vec::new();
        match &doc.exchange_policies {
            Some(map) => {
                let mut out = Vec::new();
                for (id, pd) in map.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k, v))) {
                    let path = format!("exchange_policies.{id}");
                    check_id(&path, id)?;
                    let cur = current.policies.iter().find(|p| &p.id == id);
                    let p = match cur {
                        Some(cur) => {
                            let mut p =
                                policy_patched(cur, policy_patch(pd)).map_err(invalid_at(&path))?;
                            p = check_exchange_policy(p, &lookup, self.admin_api.as_deref())
                                .map_err(invalid_at(&path))?;
                            if p != *cur {
                                p.updated_at = now;
                                b.changes.push(change(
                                    "exchange_policy",
                                    id,
                                    "update",
                                    diff(Some(&policy_doc(cur)), Some(&policy_doc(&p))),
                                ));
                                let audit = self
                                    .audit_event(
                                        now,
                                        actor,
                                        AuditAction::ExchangePolicyUpdate.as_str(),
                                    )
                                    .target(id.clone())
                                    .before(cur)
                                    .after(&p);
                                b.writes.push(ConfigWrite::PolicyUpdate {
                                    policy: p.clone(),
                                    audit,
                                });
                            }
                            p
                        }
                        None => {
                            let new = new_policy(&path, pd)?;
                            let p =
                                policy_from_new(id.clone(), new, now).map_err(invalid_at(&path))?;
                            let p = check_exchange_policy(p, &lookup, self.admin_api.as_deref())
                                .map_err(invalid_at(&path))?;
                            b.changes.push(change(
                                "exchange_policy",
                                id,
                                "create",
                                diff(None, Some(&policy_doc(&p))),
                            ));
                            let audit = self
                                .audit_event(now, actor, AuditAction::ExchangePolicyCreate.as_str())
                                .target(id.clone())
                                .after(&p);
                            b.writes.push(ConfigWrite::PolicyInsert {
                                policy: p.clone(),
                                audit,
                            });
                            p
                        }
                    };
                    out.push(p);
                }
                for p in &current.policies {
                    if map.get(&p.id).is_some_and(Option::is_some) {
                        continue;
                    }
                    let ch = change(
                        "exchange_policy",
                        &p.id,
                        "delete",
                        diff(Some(&policy_doc(p)), None),
                    );
                    if input.prune {
                        b.changes.push(ch);
                        let audit = self
                            .audit_event(now, actor, AuditAction::ExchangePolicyDelete.as_str())
                            .target(p.id.clone())
                            .before(p);
                        policy_deletes.push(ConfigWrite::PolicyDelete {
                            id: p.id.clone(),
                            audit,
                        });
                    } else if deleted_clients.contains(&p.requester_client_id) {
                        return Err(ManageError::invalid(format!(
                            "exchange_policies.{}: its requester {} is deleted; delete the policy \
                             too (prune) or keep the client",
                            shown(&p.id),
                            shown(&p.requester_client_id)
                        )));
                    } else {
                        b.skipped.push(ch);
                        out.push(p.clone());
                    }
                }
                out.sort_by(|a, b| a.id.cmp(&b.id));
                desired.policies = out;
            }
            None => {
                // Not managed, but a deleted client takes its policies with it.
                desired.policies.retain(|p| {
                    if deleted_clients.contains(&p.requester_client_id) {
                        b.notes.push(format!(
                            "exchange policy {} goes with its requester, client {}",
                            p.id, p.requester_client_id
                        ));
                        false
                    } else {
                        true
                    }
                });
            }
        }

        // The settings' rules, now that the clients are known.
        if !settings_changed.is_empty() {
            let changed: BTreeSet<&str> = settings_changed.iter().map(String::as_str).collect();
            let longest = desired
                .clients
                .iter()
                .chain(all_clients.iter().filter(|c| !managed_client(c)))
                .map(|c| c.access_token_ttl)
                .max()
                .unwrap_or(0);
            validate_settings(&effective, &changed, self.policy.jwks_max_age, longest)
                .map_err(invalid_at("settings"))?;
        }

        let Builder {
            changes,
            skipped,
            notes,
            missing,
            mut writes,
            ..
        } = b;
        // Deletions after everything that may still name what they delete; policies
        // before their clients (deleting a client deletes its policies itself).
        writes.extend(policy_deletes);
        writes.extend(client_deletes);
        // New and changed policies after the clients they name exist.
        let (policy_upserts, rest): (Vec<_>, Vec<_>) = writes.into_iter().partition(|w| {
            matches!(
                w,
                ConfigWrite::PolicyInsert { .. } | ConfigWrite::PolicyUpdate { .. }
            )
        });
        let mut writes = rest;
        writes.extend(policy_upserts);
        writes.extend(scope_deletes);

        let desired_yaml = desired.render()?;
        let desired_fp = fingerprint(&desired_yaml);
        let plan_id = fingerprint(&format!(
            "{current_fp}\n{}\n{}\n{}",
            serde_json::to_string(&changes).unwrap_or_default(),
            serde_json::to_string(&skipped).unwrap_or_default(),
            input.prune
        ));
        Ok(ConfigPrepared {
            plan: ConfigPlanDto {
                changes,
                skipped,
                notes,
                drift,
                plan_id,
                fingerprint: desired_fp,
            },
            writes,
            missing_secrets: missing,
            recorded,
        })
    }
}

fn policy_patch(pd: &PolicyDoc) -> ExchangePolicyPatch {
    ExchangePolicyPatch {
        enabled: pd.enabled,
        note: pd.note.clone(),
        requester_client_id: pd.requester_client_id.clone(),
        subject_client_ids: pd.subject_client_ids.clone(),
        subject_token_types: pd.subject_token_types.clone(),
        requester_must_be_in_subject_aud: pd.requester_must_be_in_subject_aud,
        targets: pd.targets.clone(),
        scopes: pd.scopes.clone(),
        mode: pd.mode.clone(),
        actor_client_ids: pd.actor_client_ids.clone(),
        max_ttl_secs: pd.max_ttl_secs,
        issued_token_types: pd.issued_token_types.clone(),
        max_act_depth: pd.max_act_depth,
    }
}

fn new_policy(path: &str, pd: &PolicyDoc) -> ManageResult<NewExchangePolicy> {
    let requester_client_id = pd
        .requester_client_id
        .clone()
        .ok_or_else(|| ManageError::invalid(format!("{path}.requester_client_id: missing")))?;
    Ok(NewExchangePolicy {
        enabled: pd.enabled,
        note: pd.note.clone(),
        requester_client_id,
        subject_client_ids: pd.subject_client_ids.clone().unwrap_or_default(),
        subject_token_types: pd.subject_token_types.clone(),
        requester_must_be_in_subject_aud: pd.requester_must_be_in_subject_aud,
        targets: pd.targets.clone().unwrap_or_default(),
        scopes: pd.scopes.clone().unwrap_or_default(),
        mode: pd.mode.clone(),
        actor_client_ids: pd.actor_client_ids.clone().unwrap_or_default(),
        max_ttl_secs: pd.max_ttl_secs,
        issued_token_types: pd.issued_token_types.clone(),
        max_act_depth: pd.max_act_depth,
    })
}

/// The plan being made: what it shows and what it will write.
struct Builder<'a> {
    m: &'a Manager,
    actor: &'a str,
    now: Timestamp,
    input: &'a ConfigInput,
    changes: Vec<ConfigChangeDto>,
    skipped: Vec<ConfigChangeDto>,
    notes: Vec<String>,
    missing: Vec<String>,
    writes: Vec<ConfigWrite>,
}

impl Builder<'_> {
    /// One client of the document: created with the admin API's defaults or changed as
    /// `client_update` changes it, checked by the same rules, with its secret.
    async fn client(
        &mut self,
        path: &str,
        id: &str,
        cd: &ClientDoc,
        existing: Option<&Client>,
        settings: &ServerSettings,
    ) -> ManageResult<Client> {
        let (m, now, actor) = (self.m, self.now, self.actor);
        let auth_method = cd
            .auth_method
            .as_deref()
            .map(|v| parse_field::<AuthMethod>(&format!("{path}.auth_method"), "auth method", v))
            .transpose()?;
        let client_type = cd
            .client_type
            .as_deref()
            .map(|v| parse_field::<ClientType>(&format!("{path}.client_type"), "client type", v))
            .transpose()?;
        let grant_types = cd
            .grant_types
            .as_deref()
            .map(|g| parse_grants(&format!("{path}.grant_types"), g))
            .transpose()?;
        let jwks = cd.jwks.as_ref().map(|j| jwks_text(path, j)).transpose()?;
        let c = match existing {
            Some(cur) => {
                if client_type.is_some_and(|t| t != cur.client_type) {
                    return Err(ManageError::invalid(format!(
                        "{path}.client_type: a client's type cannot change; give the new one \
                         another id"
                    )));
                }
                let upd = ClientUpdate {
                    name: cd.name.clone(),
                    auth_method,
                    grant_types,
                    redirect_uris: cd.redirect_uris.clone(),
                    post_logout_redirect_uris: cd.post_logout_redirect_uris.clone(),
                    allowed_scopes: cd.allowed_scopes.clone(),
                    jwks: jwks.map(Some),
                    jwks_uri: cd.jwks_uri.clone().map(Some),
                    access_token_ttl: cd.access_token_ttl,
                    refresh_token_ttl: cd.refresh_token_ttl,
                    refresh_idle_ttl: cd.refresh_idle_ttl,
                    refresh_grace_secs: cd.refresh_grace_secs,
                    require_consent: cd.require_consent,
                    admin_tool: cd.admin_tool,
                    disabled: cd.disabled,
                    assertion_aud_compat: cd.assertion_aud_compat,
                    require_pushed_authorization_requests: cd.require_pushed_authorization_requests,
                    allowed_origins: cd.allowed_origins.clone().map(Some),
                    dpop_bound_access_tokens: cd.dpop_bound_access_tokens,
                };
                let mut c = client_patched(cur, upd).map_err(invalid_at(path))?;
                // The JWK Set compares as JSON: the same keys written differently are
                // no change.
                if c.jwks
                    .as_deref()
                    .map(serde_json::from_str::<Value>)
                    .and_then(Result::ok)
                    == cur
                        .jwks
                        .as_deref()
                        .map(serde_json::from_str::<Value>)
                        .and_then(Result::ok)
                    && c.jwks.is_some()
                {
                    c.jwks = cur.jwks.clone();
                }
                if c != *cur {
                    c.updated_at = now;
                }
                c
            }
            None => {
                let new = NewClient {
                    name: cd.name.clone().unwrap_or_else(|| id.to_string()),
                    client_type,
                    auth_method,
                    grant_types: grant_types.unwrap_or_default(),
                    redirect_uris: cd.redirect_uris.clone().unwrap_or_default(),
                    post_logout_redirect_uris: cd
                        .post_logout_redirect_uris
                        .clone()
                        .unwrap_or_default(),
                    allowed_scopes: cd.allowed_scopes.clone().unwrap_or_default(),
                    jwks,
                    jwks_uri: cd.jwks_uri.clone(),
                    access_token_ttl: cd.access_token_ttl,
                    refresh_token_ttl: cd.refresh_token_ttl,
                    refresh_idle_ttl: cd.refresh_idle_ttl,
                    refresh_grace_secs: cd.refresh_grace_secs,
                    require_consent: cd.require_consent,
                    admin_tool: cd.admin_tool,
                    assertion_aud_compat: cd.assertion_aud_compat,
                    require_pushed_authorization_requests: cd.require_pushed_authorization_requests,
                    allowed_origins: cd.allowed_origins.clone(),
                    dpop_bound_access_tokens: cd.dpop_bound_access_tokens,
                };
                let mut c = m
                    .client_from_new_under(new, settings)
                    .await
                    .map_err(invalid_at(path))?;
                c.id = id.to_string();
                c.disabled = cd.disabled.unwrap_or(false);
                c
            }
        };
        validate_client(&c).map_err(invalid_at(path))?;
        if existing.is_none_or(|cur| c.access_token_ttl > cur.access_token_ttl) {
            ttl_fits_rotation(
                c.access_token_ttl,
                m.policy.jwks_max_age,
                settings.retire_after,
            )
            .map_err(invalid_at(path))?;
        }

        // The secret: compared by hash, never shown.
        let secret_path = format!("{path}.secret");
        let reference = cd.secret.as_deref();
        let wants_secret = is_secret_client(&c);
        if reference.is_some() && !wants_secret {
            return Err(ManageError::invalid(format!(
                "{secret_path}: only a confidential client authenticating with \
                 client_secret_basic or client_secret_post has a secret"
            )));
        }
        let value = reference.and_then(|r| self.input.secrets.get(r));
        if let Some(v) = value {
            if v.chars().count() < MIN_CONFIG_SECRET_CHARS {
                return Err(ManageError::invalid(format!(
                    "{secret_path}: the secret {} holds is shorter than \
                     {MIN_CONFIG_SECRET_CHARS} characters",
                    reference.unwrap_or_default()
                )));
            }
        }
        let live: Vec<ClientSecret> = match existing {
            Some(_) if wants_secret => m
                .store
                .client_secrets(id)
                .await?
                .into_iter()
                .filter(|s| s.expires_at.is_none_or(|e| e > now))
                .collect(),
            _ => Vec::new(),
        };
        let new_row = |v: &str| ClientSecret {
            id: crypto::random_id(),
            client_id: id.to_string(),
            hash: crypto::sha256(v.as_bytes()),
            created_at: now,
            expires_at: None,
        };
        let mut secret_row: Option<ClientSecret> = None;
        let mut secret_field: Option<ConfigFieldChangeDto> = None;
        if wants_secret {
            match (reference, value) {
                (None, _) if existing.is_none() || live.is_empty() => {
                    return Err(ManageError::invalid(format!(
                        "{secret_path}: missing; a confidential client with client_secret_basic \
                         or client_secret_post needs a secret reference (${{env:NAME}} or \
                         ${{file:PATH}})"
                    )));
                }
                (None, _) => {}
                (Some(r), None) => {
                    if existing.is_none() || live.is_empty() {
                        self.missing.push(secret_path.clone());
                        secret_field = Some(ConfigFieldChangeDto {
                            field: "secret".into(),
                            old: (!live.is_empty()).then(|| "(secret)".into()),
                            new: Some(format!("from {r} (no value here)")),
                        });
                    } else {
                        self.notes.push(format!(
                            "{secret_path}: {r} has no value here, so the secret was not compared"
                        ));
                    }
                }
                (Some(r), Some(v)) => {
                    let hash = crypto::sha256(v.as_bytes());
                    if !live.iter().any(|s| crypto::ct_eq(&s.hash, &hash)) {
                        secret_row = Some(new_row(v));
                        secret_field = Some(ConfigFieldChangeDto {
                            field: "secret".into(),
                            old: (!live.is_empty()).then(|| "(secret)".into()),
                            new: Some(format!("from {r}")),
                        });
                    }
                }
            }
        }

        let id_s = id.to_string();
        match existing {
            None => {
                let mut fields = diff(None, Some(&client_doc(&c)));
                fields.extend(secret_field);
                self.changes.push(change("client", id, "create", fields));
                let mut after = serde_json::to_value(&c)
                    .map_err(|e| ManageError::Internal(format!("cannot serialise client: {e}")))?;
                if let Some(obj) = after.as_object_mut() {
                    obj.insert(
                        "secret_id".into(),
                        secret_row
                            .as_ref()
                            .map(|r| Value::from(r.id.clone()))
                            .unwrap_or(Value::Null),
                    );
                }
                let audit = m
                    .audit_event(now, actor, AuditAction::ClientCreate.as_str())
                    .target(id_s)
                    .after(&after);
                self.writes.push(ConfigWrite::ClientInsert {
                    client: c.clone(),
                    secret: secret_row,
                    audit,
                });
            }
            Some(cur) => {
                let mut fields = diff(Some(&client_doc(cur)), Some(&client_doc(&c)));
                if c != *cur {
                    let audit = m
                        .audit_event(now, actor, AuditAction::ClientUpdate.as_str())
                        .target(id_s.clone())
                        .before(cur)
                        .after(&c);
                    self.writes.push(ConfigWrite::ClientUpdate {
                        client: c.clone(),
                        audit,
                    });
                }
                if let Some(row) = secret_row {
                    let previous_expire_at = now + m.policy.secret_overlap;
                    let audit = m
                        .audit_event(now, actor, AuditAction::ClientRotateSecret.as_str())
                        .target(id_s)
                        .after(&json!({
                            "secret_id": row.id,
                            "previous_secrets_expire_at": previous_expire_at,
                        }));
                    self.writes.push(ConfigWrite::ClientSecretAdd {
                        secret: row,
                        old_expire_at: previous_expire_at,
                        audit,
                    });
                }
                fields.extend(secret_field);
                if !fields.is_empty() {
                    self.changes.push(change("client", id, "update", fields));
                }
            }
        }
        Ok(c)
    }
}

/// The plan as text, in the manner of `terraform plan`: `+` create, `~` change (each
/// field `old → new`), `-` delete, the deletions skipped without `--prune`, then a
/// summary line. Never a secret: the plan holds none. `time` writes a Unix time for
/// people (the CLI's UTC form).
pub fn render_plan(plan: &ConfigPlanDto, time: &dyn Fn(i64) -> String) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    match (&plan.drift.last_applied_at, plan.drift.drifted) {
        (None, _) => out.push_str("No apply is recorded for this target yet.\n"),
        (Some(at), true) => {
            let _ = writeln!(
                out,
                "Drift: the target changed outside this configuration since the last \
                 apply (at {}, by {}).",
                time(*at),
                plan.drift.last_applied_by.as_deref().unwrap_or("?")
            );
        }
        (Some(at), false) => {
            let _ = writeln!(
                out,
                "No drift since the last apply (at {}, by {}).",
                time(*at),
                plan.drift.last_applied_by.as_deref().unwrap_or("?")
            );
        }
    }
    let sign = |a: &str| match a {
        "create" => "+",
        "delete" => "-",
        _ => "~",
    };
    let verb = |a: &str| match a {
        "create" => "will be created",
        "delete" => "will be deleted",
        _ => "will be changed",
    };
    for c in &plan.changes {
        let _ = writeln!(
            out,
            "  {} {} {} {}",
            sign(&c.action),
            c.kind,
            c.id,
            verb(&c.action)
        );
        for f in &c.fields {
            let old = f.old.as_deref().unwrap_or("(none)");
            let new = f.new.as_deref().unwrap_or("(none)");
            match c.action.as_str() {
                "create" => {
                    let _ = writeln!(out, "      + {} = {new}", f.field);
                }
                "delete" => {
                    let _ = writeln!(out, "      - {} = {old}", f.field);
                }
                _ => {
                    let _ = writeln!(out, "      ~ {}: {old} → {new}", f.field);
                }
            }
        }
    }
    if !plan.skipped.is_empty() {
        out.push_str("\nNot deleted without --prune:\n");
        for c in &plan.skipped {
            let _ = writeln!(out, "    {} {} (only in the target)", c.kind, c.id);
        }
    }
    for n in &plan.notes {
        let _ = writeln!(out, "\nNote: {n}");
    }
    let count = |a: &str| plan.changes.iter().filter(|c| c.action == a).count();
    if plan.changes.is_empty() {
        out.push_str("\nNo changes. The target matches the configuration.\n");
    } else {
        let _ = writeln!(
            out,
            "\nPlan: {} to create, {} to change, {} to delete.",
            count("create"),
            count("update"),
            count("delete")
        );
    }
    out
}
