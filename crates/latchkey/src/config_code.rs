//! `latchkey config export | plan | apply`: configuration as code (issue 16) on the
//! `config_export` / `config_plan` / `config_apply` operations of an [`AdminBackend`]
//! (a database file, a PostgreSQL database, or a server's admin API, as for `admin`).
//!
//! Owns: reading the YAML files (a base and its overlays, `-f` repeated), resolving the
//! document's secret references here, where the command runs (`${env:NAME}` from this
//! process's environment, `${file:PATH}` from this machine), the plan's text, the
//! confirmation on the terminal, and the exit codes. What a plan contains and how an
//! apply runs is `latchkey_core::manage::config`'s.
//!
//! Exit codes: 0 success; 1 an error, or an apply refused or declined; 2 bad usage —
//! and, for `plan --detailed-exitcode` (as `terraform plan -detailed-exitcode`), 0 no
//! changes, 2 changes to apply.

use crate::admin::{err_line, open_embedded};
use clap::{Args, Subcommand};
use latchkey_admin::{AdminBackend, AdminError};
use latchkey_api_types::*;
use latchkey_core::manage::{parse_documents, render_plan, SecretRef};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub target: crate::admin::Target,

    #[command(subcommand)]
    pub command: ConfigCmd,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Print the target's configuration as YAML (clients, scopes, users' roles,
    /// exchange policies, runtime settings); secrets only as references
    Export,
    /// Show what `apply` would create, change and delete, and any drift since the last
    /// apply; nothing is written
    Plan(PlanArgs),
    /// Apply a configuration in one transaction, after showing the plan and asking
    Apply(ApplyArgs),
}

#[derive(Debug, Args)]
pub struct FilesArgs {
    /// A configuration file; repeat for overlays merged over the base in order
    /// (`-f latchkey.yaml -f latchkey.staging.yaml`)
    #[arg(short = 'f', long = "file", value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Also delete what the target has and the files do not (otherwise the plan lists
    /// those deletions as skipped)
    #[arg(long)]
    pub prune: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub files: FilesArgs,

    /// Exit 0 when there is nothing to change, 2 when there is (1 on errors)
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// The plan as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub files: FilesArgs,

    /// Apply without asking (needed when stdin is not a terminal)
    #[arg(long)]
    pub auto_approve: bool,
}

pub async fn run(args: ConfigArgs) -> ExitCode {
    let t = args.target;
    if let Some(server) = &t.server {
        return run_remote(server, t.api_key.clone(), args.command).await;
    }
    let backend = match open_embedded(t.db, t.database, t.config.as_deref()).await {
        Ok(b) => b,
        Err(code) => return code,
    };
    let code = command(&backend, args.command).await;
    backend.close().await;
    code
}

#[cfg(feature = "remote")]
async fn run_remote(server: &str, api_key: Option<String>, cmd: ConfigCmd) -> ExitCode {
    match crate::remote::backend(server, api_key) {
        Ok(b) => command(&b, cmd).await,
        Err(e) => {
            eprintln!("{}", err_line(&e));
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "remote"))]
async fn run_remote(server: &str, _api_key: Option<String>, _cmd: ConfigCmd) -> ExitCode {
    eprintln!(
        "error: this latchkey was built without remote administration (cargo feature \
         `remote`), so it cannot reach {server}; use --db or --database"
    );
    ExitCode::FAILURE
}

async fn command(b: &dyn AdminBackend, cmd: ConfigCmd) -> ExitCode {
    let result = match cmd {
        ConfigCmd::Export => export(b).await,
        ConfigCmd::Plan(a) => plan(b, a).await,
        ConfigCmd::Apply(a) => apply(b, a).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", err_line(&e));
            ExitCode::FAILURE
        }
    }
}

async fn export(b: &dyn AdminBackend) -> Result<ExitCode, AdminError> {
    let out = b.config_export().await?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.yaml.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| AdminError::internal(format!("cannot write the document: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

/// The files, and the values of the secret references in them, read here.
fn read_input(a: &FilesArgs) -> Result<(Vec<ConfigFileDto>, BTreeMap<String, String>), AdminError> {
    let mut files = Vec::new();
    for path in &a.files {
        let yaml = std::fs::read_to_string(path).map_err(|e| {
            AdminError::invalid_input(format!("cannot read {}: {e}", path.display()))
        })?;
        files.push(ConfigFileDto {
            name: path.display().to_string(),
            yaml,
        });
    }
    let doc = parse_documents(&files).map_err(AdminError::from)?;
    let mut secrets = BTreeMap::new();
    for (item, reference) in doc.secret_references() {
        if secrets.contains_key(&reference) {
            continue;
        }
        let value = resolve(&item, &reference)?;
        secrets.insert(reference, value);
    }
    Ok((files, secrets))
}

/// One reference's value. Errors name the item and the reference, never a value.
fn resolve(item: &str, reference: &str) -> Result<String, AdminError> {
    match SecretRef::parse(reference) {
        Some(SecretRef::Env(name)) => match std::env::var(&name) {
            Ok(v) if !v.is_empty() => Ok(v),
            _ => Err(AdminError::invalid_input(format!(
                "{item}: {reference}: the environment variable {name} is not set"
            ))),
        },
        Some(SecretRef::File(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                AdminError::invalid_input(format!("{item}: {reference}: cannot read {path}: {e}"))
            })?;
            let v = text.trim_end_matches(['\n', '\r']).to_string();
            if v.is_empty() {
                return Err(AdminError::invalid_input(format!(
                    "{item}: {reference}: the file is empty"
                )));
            }
            Ok(v)
        }
        None => Err(AdminError::invalid_input(format!(
            "{item}: must be a reference, ${{env:NAME}} or ${{file:PATH}}"
        ))),
    }
}

async fn plan(b: &dyn AdminBackend, a: PlanArgs) -> Result<ExitCode, AdminError> {
    let (files, secrets) = read_input(&a.files)?;
    let plan = b
        .config_plan(ConfigPlanRequest {
            files,
            secrets,
            prune: a.files.prune,
        })
        .await?;
    if a.json {
        let text = serde_json::to_string_pretty(&plan)
            .map_err(|e| AdminError::internal(format!("cannot encode the plan: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", render_plan(&plan, &crate::output::time));
    }
    Ok(if a.detailed_exitcode && !plan.changes.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

async fn apply(b: &dyn AdminBackend, a: ApplyArgs) -> Result<ExitCode, AdminError> {
    let (files, secrets) = read_input(&a.files)?;
    let prune = a.files.prune;
    let plan = b
        .config_plan(ConfigPlanRequest {
            files: files.clone(),
            secrets: secrets.clone(),
            prune,
        })
        .await?;
    print!("{}", render_plan(&plan, &crate::output::time));
    if !plan.changes.is_empty() && !a.auto_approve {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "error: not applying: stdin is not a terminal, so nobody can confirm the plan \
                 above; review it and run again with --auto-approve"
            );
            return Ok(ExitCode::FAILURE);
        }
        print!("\nApply these changes? Only 'yes' is accepted: ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if answer.trim() != "yes" {
            eprintln!("Apply cancelled: nothing was changed.");
            return Ok(ExitCode::FAILURE);
        }
    }
    let done = b
        .config_apply(ConfigApplyRequest {
            files,
            secrets,
            prune,
            expected_plan: Some(plan.plan_id.clone()),
        })
        .await?;
    let count = |x: &str| done.plan.changes.iter().filter(|c| c.action == x).count();
    if done.applied {
        println!(
            "\nApply complete: {} created, {} changed, {} deleted.",
            count("create"),
            count("update"),
            count("delete")
        );
    } else {
        println!("\nApply complete: nothing to change.");
    }
    Ok(ExitCode::SUCCESS)
}
