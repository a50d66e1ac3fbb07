// `sqlx::migrate!` embeds migrations/ at compile time; without this a new or edited
// migration file would not trigger a rebuild and the binary would ship a stale schema.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
