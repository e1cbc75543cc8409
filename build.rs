//! Release builds embed `static/` (see `src/web.rs`); rebuild when the web app changes.

fn main() {
    println!("cargo:rerun-if-changed=static");
    println!("cargo:rerun-if-changed=migrations");
}
