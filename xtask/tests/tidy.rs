//! Tidy tests: the project's structural rules, enforced by `cargo test` like any behaviour.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Crates that hold the pure core: no I/O, no async runtime, no database, no HTTP.
const PURE_CRATES: &[&str] = &["jz-domain", "jz-geo", "jz-classify"];

/// Dependencies a pure crate must never reach, directly or not.
const IMPURE: &[&str] = &[
    "tokio",
    "sqlx",
    "sqlx-core",
    "rusqlite",
    "libsqlite3-sys",
    "tokio-postgres",
    "postgres",
    "axum",
    "hyper",
    "reqwest",
    "tower",
    "tower-http",
    "mio",
    "async-std",
    "rumqttc",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n == "target" || n == "node_modules")
            {
                continue;
            }
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

fn all_rust_files() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for top in ["crates", "xtask"] {
        rust_files(&root().join(top), &mut found);
    }
    assert!(
        found.len() > 10,
        "the tidy walk found too few files: {found:?}"
    );
    found
}

#[test]
fn pure_crates_depend_on_no_runtime_database_or_http_crate() {
    for krate in PURE_CRATES {
        let output = Command::new(env!("CARGO"))
            .args([
                "tree",
                "--offline",
                "-p",
                krate,
                "-e",
                "normal",
                "--prefix",
                "none",
                "--format",
                "{p}",
            ])
            .current_dir(root())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "cargo tree failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let tree = String::from_utf8(output.stdout).unwrap();
        let names: Vec<&str> = tree
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .collect();
        assert!(
            names.contains(krate),
            "cargo tree printed nothing useful: {tree}"
        );
        for name in names {
            assert!(
                !IMPURE.contains(&name),
                "the pure crate {krate} depends on {name}"
            );
        }
    }
}

#[test]
fn every_source_file_opens_with_a_doc_line() {
    let missing: Vec<String> = all_rust_files()
        .into_iter()
        .filter(|path| !std::fs::read_to_string(path).unwrap().starts_with("//!"))
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! line: {missing:#?}"
    );
}

#[test]
fn no_test_is_ignored_or_expects_a_panic() {
    let banned = [concat!("#[", "ignore"), concat!("#[", "should_panic")];
    let mut offenders = Vec::new();
    for path in all_rust_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        for pattern in banned {
            if text.contains(pattern) {
                offenders.push(format!("{}: {pattern}", path.display()));
            }
        }
    }
    assert!(offenders.is_empty(), "banned attributes: {offenders:#?}");
}

#[test]
fn every_migration_exists_in_both_dialects_and_is_embedded() {
    let folder = root().join("crates/jz-store/migrations");
    let names = |dialect: &str| {
        let mut names: Vec<String> = std::fs::read_dir(folder.join(dialect))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let sqlite = names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite,
        names("postgres"),
        "the two dialects must have the same migrations"
    );
    let runner = std::fs::read_to_string(root().join("crates/jz-store/src/migrate.rs")).unwrap();
    for name in &sqlite {
        for dialect in ["sqlite", "postgres"] {
            let include = format!("../migrations/{dialect}/{name}");
            assert!(
                runner.contains(&include),
                "migrate.rs does not embed {include}"
            );
        }
    }
}

#[test]
fn ci_runs_exactly_the_readme_test_command() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    let command = "cargo xtask ci";
    assert!(
        readme.contains(&format!("\n{command}\n")),
        "README.md must show `{command}` on its own line"
    );
    let runs: Vec<&str> = ci
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && l.contains("cargo "))
        .collect();
    assert_eq!(
        runs,
        vec![format!("exec {command}")],
        ".ci/run must run the README's test command and nothing else of cargo"
    );
}
