//! The `jingzhi` command as a person runs it: clear one-line errors for bad databases, the audit
//! verifier, and `serve` answering over real HTTP on loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};

use jz_store::{Change, Location, Store, StoreOptions};
use jz_testkit::audit_record;

fn jingzhi(args: &[&str]) -> Output {
    jingzhi_with(args, &[])
}

/// Runs `jingzhi` with `env` set on top of an environment without database settings.
fn jingzhi_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jingzhi"))
        .args(args)
        .env_remove("JINGZHI_DATABASE_URL")
        .env_remove("JINGZHI_DATA")
        .envs(env.iter().copied())
        .output()
        .expect("jingzhi runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts a failed run printed exactly one error line containing every `needle`.
fn check_one_line_error(output: &Output, needles: &[&str]) {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(1), "exit code; stderr: {text}");
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one error line expected, got: {text}");
    assert!(lines[0].starts_with("error: "), "{text}");
    for needle in needles {
        assert!(lines[0].contains(needle), "`{needle}` missing from: {text}");
    }
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn an_unreadable_numeric_setting_is_refused_with_its_name_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (name, value, needles) in [
        (
            "JINGZHI_CHECKPOINT_MS",
            "20ms",
            ["JINGZHI_CHECKPOINT_MS", "\"20ms\"", "milliseconds"],
        ),
        (
            "JINGZHI_WAL_LIMIT_MB",
            "-5",
            ["JINGZHI_WAL_LIMIT_MB", "\"-5\"", "megabytes"],
        ),
        (
            "JINGZHI_TALLY_FOLD_MS",
            "",
            ["JINGZHI_TALLY_FOLD_MS", "\"\"", "milliseconds"],
        ),
        (
            "JINGZHI_RATE_LIMIT",
            "lots",
            ["JINGZHI_RATE_LIMIT", "\"lots\"", "requests per minute"],
        ),
        (
            "JINGZHI_WORKER_NICE",
            "20",
            ["JINGZHI_WORKER_NICE", "\"20\"", "0 to 19"],
        ),
    ] {
        let output = jingzhi_with(
            &["--data", data.to_str().unwrap(), "audit", "verify"],
            &[(name, value)],
        );
        check_one_line_error(&output, &needles);
        assert!(
            !data.exists(),
            "{name}: nothing was created before refusing"
        );
    }
    // Whole numbers are taken.
    let output = jingzhi_with(
        &["--data", data.to_str().unwrap(), "audit", "verify"],
        &[
            ("JINGZHI_CHECKPOINT_MS", "50"),
            ("JINGZHI_RATE_LIMIT", "0"),
            ("JINGZHI_WORKER_NICE", "0"),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn an_unreachable_postgres_is_one_clear_line_with_the_password_masked() {
    let output = jingzhi(&[
        "--database",
        "postgres://jz:s3cret@127.0.0.1:1/city",
        "audit",
        "verify",
    ]);
    check_one_line_error(
        &output,
        &[
            "postgres://jz:***@127.0.0.1:1/city",
            "Fix:",
            "cargo xtask services",
        ],
    );
    assert!(!stderr(&output).contains("s3cret"));
}

#[test]
fn a_missing_postgres_database_names_the_fix() {
    let admin = jz_testkit::postgres_admin_url();
    let url = format!("{}/jz_no_such_database", admin.rsplit_once('/').unwrap().0);
    let output = jingzhi(&["--database", &url, "audit", "verify"]);
    if stderr(&output).contains("Connection refused") {
        jz_testkit::service_missing("PostgreSQL", &admin, "connection refused");
        return;
    }
    check_one_line_error(&output, &["jz_no_such_database", "createdb"]);
}

#[test]
fn an_unsupported_url_or_unwritable_folder_is_one_clear_line() {
    let output = jingzhi(&["--database", "mysql://u:pw@h/db", "audit", "verify"]);
    check_one_line_error(&output, &["mysql://u:***@h/db", "postgres://"]);
    let output = jingzhi(&[
        "--data",
        "/proc/jingzhi-cannot-live-here",
        "audit",
        "verify",
    ]);
    check_one_line_error(&output, &["/proc/jingzhi-cannot-live-here", "--data DIR"]);
}

#[test]
fn audit_verify_names_the_first_broken_entry() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().to_str().unwrap();
    let output = jingzhi(&["--data", data, "audit", "verify"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("audit chain intact: 0 entries"));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Store::open(&Location::data_dir(folder.path()), StoreOptions::default())
            .await
            .unwrap();
        for n in 1..=3 {
            store
                .write(Change::new().audit(audit_record("probe.create", &format!("p{n}"), n)))
                .await
                .unwrap();
        }
        store.close().await;
    });
    let output = jingzhi(&["--data", data, "audit", "verify"]);
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("audit chain intact: 3 entries"));

    let db = rusqlite::Connection::open(folder.path().join(jz_store::SQLITE_FILE_NAME)).unwrap();
    db.execute_batch(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET after_json = '{\"forged\":true}' WHERE seq = 2;",
    )
    .unwrap();
    drop(db);
    let output = jingzhi(&["--data", data, "audit", "verify"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("audit chain broken at entry #2: "),
        "{stdout}"
    );
    assert!(stdout.contains("edited"), "{stdout}");
}

/// A minimal HTTP/1.1 GET over loopback: status code and body.
fn get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Kills the server when the test ends, whether it passed or not.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_answers_health_with_the_durability_it_runs_with() {
    let folder = tempfile::tempdir().unwrap();
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_jingzhi"))
            .args([
                "--data",
                folder.path().to_str().unwrap(),
                "serve",
                "--listen",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let port: u16 = first
        .trim()
        .rsplit_once("http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .1
        .parse()
        .unwrap();

    let (status, body) = get(port, "/api/v1/health");
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["store"]["backend"], "sqlite");
    assert_eq!(health["store"]["durability"]["synchronous"], "full");
    assert_eq!(health["store"]["durability"]["journal_mode"], "wal");

    let (status, body) = get(port, "/api/v1/no-such-thing");
    assert_eq!(status, 404);
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], "not_found");
}

const CITY: &str = r#"{"type":"FeatureCollection","features":[
  {"type":"Feature","properties":{"adcode":"330100","NAME":"Test City","kind":"prefecture"},
   "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.02,30.00],[120.02,30.02],[120.00,30.02],[120.00,30.00]]]}},
  {"type":"Feature","properties":{"adcode":"330102","NAME":"Only District","kind":"county"},
   "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.02,30.00],[120.02,30.02],[120.00,30.02],[120.00,30.00]]]}}
]}"#;
const CODES: &str = "adcode,NAME,kind\n330102001,One Street,town\n330102001001,North,village\n330102001002,South,village\n";

#[test]
fn import_locate_export_and_zones_from_the_command_line() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let data = data.to_str().unwrap();
    let city = folder.path().join("city.geojson");
    let codes = folder.path().join("codes.csv");
    std::fs::write(&city, CITY).unwrap();
    std::fs::write(&codes, CODES).unwrap();
    let mapping = [
        "--code-field",
        "adcode",
        "--name-field",
        "NAME",
        "--level-field",
        "kind",
        "--parent-field",
        "none",
        "--level-map",
        "prefecture=city",
        "--level-map",
        "county=district",
    ];
    let mut args = vec![
        "--data",
        data,
        "import",
        "divisions",
        city.to_str().unwrap(),
        codes.to_str().unwrap(),
    ];
    args.extend(mapping);
    let output = jingzhi(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        stdout.contains("community        2  (2 generated)"),
        "{stdout}"
    );
    assert!(stdout.contains("grids "), "{stdout}");

    let output = jingzhi(&["--data", data, "locate", "120.005", "30.005"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        stdout.contains("district  330102000000 Only District"),
        "{stdout}"
    );
    assert!(stdout.contains("[generated boundary]"), "{stdout}");
    let grid_line = stdout.lines().find(|l| l.starts_with("grid ")).unwrap();
    assert!(
        grid_line
            .trim_start_matches("grid")
            .trim()
            .starts_with("33010200100"),
        "{stdout}"
    );

    let output = jingzhi(&["--data", data, "locate", "121.0", "31.0"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("outside the city: the nearest division is Only District"),
        "{}",
        stderr(&output)
    );

    let output = jingzhi(&["--data", data, "export", "community"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let layer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let features = layer["features"].as_array().unwrap();
    assert_eq!(features.len(), 2);
    assert!(
        features
            .iter()
            .all(|f| f["properties"]["generated"] == true)
    );

    let output = jingzhi(&[
        "--data",
        data,
        "zones",
        "set-type-goals",
        "old_town",
        "--goal",
        "satisfaction_rate=0.7:0.9",
        "--goal",
        "rework_rate=0.2:0.05",
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "weights summing to 0.9 must be refused"
    );
    assert!(
        stderr(&output).contains("the weights sum to 0.9"),
        "{}",
        stderr(&output)
    );
    let output = jingzhi(&[
        "--data",
        data,
        "zones",
        "set-type-goals",
        "old_town",
        "--goal",
        "satisfaction_rate=0.8:0.9",
        "--goal",
        "rework_rate=0.2:0.05",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = jingzhi(&["--data", data, "zones", "history", "zone_type:old_town"]);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stdout
            .lines()
            .nth(1)
            .unwrap()
            .contains("goal_cluster.update"),
        "{stdout}"
    );

    // A broken file: every problem is listed and nothing changes.
    std::fs::write(&codes, "adcode,NAME,kind\n33010200X,Bad,town\n").unwrap();
    let mut args = vec![
        "--data",
        data,
        "import",
        "divisions",
        codes.to_str().unwrap(),
    ];
    args.extend(mapping);
    let output = jingzhi(&args);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("line 2 (33010200X): `33010200X` is not a division code"),
        "{}",
        stderr(&output)
    );
}
