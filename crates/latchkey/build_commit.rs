// Included by the build scripts of `latchkey` and the desktop console (src-tauri), so
// `latchkey --version` and the console's About show the same commit.

/// Sets `LATCHKEY_COMMIT` to `git rev-parse --short HEAD`, or "unknown" outside a git
/// checkout (a source tarball, a packaging sandbox without git): the version line is
/// information, never a reason for the build to fail.
fn emit_commit() {
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git").args(args).output().ok()?;
        if !out.status.success() {
            return None;
        }
        let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (!s.is_empty()).then_some(s)
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=LATCHKEY_COMMIT={commit}");
    // Only this checkout's HEAD and the branch it is on: every worktree shares the
    // refs directory, and watching all of it would rebuild on anyone's commit.
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={head}");
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(r) = git(&["rev-parse", "--git-path", &branch]) {
            println!("cargo:rerun-if-changed={r}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
