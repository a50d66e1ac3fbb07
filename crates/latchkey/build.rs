//! Stamps the binary with the commit it was built from (`latchkey --version`).

include!("build_commit.rs");

fn main() {
    emit_commit();
}
