//! Layers import downward only: a lower module that names a higher one fails here, whatever
//! the form (`use crate::x`, `crate::x::f()`), so a cycle cannot creep back in unnoticed.

use std::path::Path;

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).expect("readable source directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("readable source file");
                found.push((path.display().to_string(), text));
            }
        }
    }
    found
}

/// The modules of `module` (a directory under `src/`) that name any of `above`.
fn violations(module: &str, above: &[&str]) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(module);
    let mut bad = Vec::new();
    for (file, text) in sources(&dir) {
        for (n, line) in text.lines().enumerate() {
            for higher in above {
                let braced = format!("crate::{{{higher}");
                if line.contains(&format!("crate::{higher}::"))
                    || line.contains(&format!("crate::{higher};"))
                    || line.contains(&braced)
                {
                    bad.push(format!("{file}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    bad
}

#[test]
fn payments_know_none_of_what_they_pay_for() {
    let bad = violations(
        "payments",
        &[
            "orders",
            "consultations",
            "classroom",
            "realtime",
            "catalog",
            "recommend",
        ],
    );
    assert!(
        bad.is_empty(),
        "payments import a module above them:\n{}",
        bad.join("\n")
    );
}

#[test]
fn orders_know_nothing_of_consultations_or_live_rooms() {
    let bad = violations("orders", &["consultations", "classroom", "realtime"]);
    assert!(
        bad.is_empty(),
        "orders import a module above them:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_check_sees_an_import() {
    // The test above would pass on any text if the matching were wrong: it must see the
    // consultations module's own import of payments.
    let seen = violations("consultations", &["payments"]);
    assert!(
        !seen.is_empty(),
        "consultations import payments, and the check must see it"
    );
}
