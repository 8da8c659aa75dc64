//! The workspace's rules of structure, checked on its sources (issue 14): every rule in the
//! domain, adapters that only store, pages that cannot forget to escape, files a reader can
//! hold in mind.

use std::fs;
use std::path::{Path, PathBuf};

/// The workspace's `crates/` directory.
fn crates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = fs::read_to_string(&path).unwrap();
                found.push((path, text));
            }
        }
    }
    assert!(!found.is_empty(), "no sources under {}", dir.display());
    found
}

/// The code of a file that is not its unit tests: what comes before `#[cfg(test)]` at the
/// top level. A `tests.rs` module file is all test code.
fn non_test_code(path: &Path, text: &str) -> String {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return String::new();
    }
    text.split("\n#[cfg(test)]").next().unwrap().to_owned()
}

fn every_src() -> Vec<(PathBuf, String)> {
    let mut all = Vec::new();
    for entry in fs::read_dir(crates()).unwrap() {
        let src = entry.unwrap().path().join("src");
        if src.is_dir() {
            all.extend(sources(&src));
        }
    }
    all
}

#[test]
fn no_source_file_holds_more_than_400_lines_of_code() {
    let long: Vec<String> = every_src()
        .iter()
        .map(|(path, text)| (path, non_test_code(path, text).lines().count()))
        .filter(|(_, lines)| *lines > 400)
        .map(|(path, lines)| format!("{}: {lines}", path.display()))
        .collect();
    assert!(long.is_empty(), "over 400 lines of non-test code: {long:?}");
}

#[test]
fn adapters_name_no_payment_status() {
    let statuses = orderpay_domain::payment::PaymentStatus::ALL.map(|s| s.as_str());
    for adapter in ["postgres", "memory"] {
        for (path, text) in sources(&crates().join(adapter).join("src")) {
            let code = non_test_code(&path, &text);
            for status in statuses {
                for literal in [format!("'{status}'"), format!("\"{status}\"")] {
                    assert!(
                        !code.contains(&literal),
                        "{} spells the payment status {literal}: take it from PaymentStatus",
                        path.display()
                    );
                }
            }
        }
    }
}

/// `restore` rebuilds a stored order or payment in any status: only the stores may call it.
#[test]
fn only_the_stores_rebuild_orders_and_payments() {
    for (path, text) in every_src() {
        let crate_name = path
            .strip_prefix(crates())
            .unwrap()
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        if ["domain", "postgres", "memory"].contains(&crate_name.as_str()) {
            continue;
        }
        let code = non_test_code(&path, &text);
        for name in ["OrderParts", "PaymentParts", "::restore("] {
            assert!(
                !code.contains(name),
                "{} uses {name}: only a store rebuilds an order or a payment",
                path.display()
            );
        }
    }
}

/// Pages are maud templates: HTML is never assembled by formatting strings, and raw HTML
/// goes only through `PreEscaped`, in one place (two constants, allowed by their hashes).
#[test]
fn pages_are_templates_that_escape_by_type() {
    for (path, text) in sources(&crates().join("http").join("src")) {
        let code = non_test_code(&path, &text);
        for (at, _) in code.match_indices("format!(") {
            let call: String = code[at..].chars().take(120).collect();
            let first_line = call.lines().next().unwrap_or_default();
            assert!(
                !first_line.contains('<'),
                "{} formats HTML: {first_line}",
                path.display()
            );
        }
        let raw: usize = code
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .map(|l| l.matches("PreEscaped(").count())
            .sum();
        if path.ends_with("pages.rs") {
            assert_eq!(
                raw, 2,
                "pages.rs: two PreEscaped, for the style sheet and the pay page's script"
            );
        } else {
            assert_eq!(raw, 0, "{} writes raw HTML", path.display());
        }
    }
}
