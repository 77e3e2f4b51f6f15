//! Project automation: `cargo xtask ci` (the README's test command), `cargo xtask services` and
//! `cargo xtask browser` (the web console in headless Chromium).
//!
//! `services` makes the services the tests need available on loopback — PostgreSQL with PostGIS
//! on 127.0.0.1:54329 and Mosquitto on 127.0.0.1:18830 — installing Debian packages when they
//! are missing and starting them, and doing nothing when they already run. `ci` starts the
//! services, then runs the format check, clippy with `-D warnings`, and the whole test suite
//! (tidy tests included) on both engines, then the browser tests.

use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

const PG_PORT: u16 = 54329;
const MQTT_PORT: u16 = 18830;
const SERVICES_DIR: &str = "/var/tmp/jingzhi-services";
const PG_URL: &str = "postgres://postgres@127.0.0.1:54329/postgres";
const MQTT_ADDR: &str = "127.0.0.1:18830";

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("fuzz-api") => fuzz_api(args.get(1).map(String::as_str)),
        Some("browser") => browser(),
        Some("services") => match args.get(1).map(String::as_str) {
            None | Some("start") => services(),
            Some("stop") => stop_services(),
            Some(other) => Err(format!("unknown services action `{other}`; use start or stop")),
        },
        _ => Err(
            "usage: cargo xtask <ci | services [start|stop]>\n  ci        start test services, then fmt check, clippy -D warnings, all tests\n  browser   the web console's tests in headless Chromium (Debian's package) against a live server\n  fuzz-api [SECONDS]  run the schemathesis fuzzer (PyPI) against a live server's OpenAPI document\n  services  make PostgreSQL+PostGIS (127.0.0.1:54329) and Mosquitto (127.0.0.1:18830) available".into(),
        ),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn ci() -> Result<()> {
    let started = Instant::now();
    services()?;
    let root = workspace_root();
    run(Command::new("cargo")
        .args(["fmt", "--all", "--check"])
        .current_dir(&root))?;
    run(Command::new("cargo")
        .args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])
        .current_dir(&root))?;
    let mut test = Command::new("cargo");
    test.args(["test", "--workspace", "--all-targets"])
        .current_dir(&root);
    if std::env::var_os("JINGZHI_TEST_POSTGRES_URL").is_none() {
        test.env("JINGZHI_TEST_POSTGRES_URL", PG_URL);
    }
    if std::env::var_os("JINGZHI_TEST_MQTT_ADDR").is_none() {
        test.env("JINGZHI_TEST_MQTT_ADDR", MQTT_ADDR);
    }
    run(&mut test)?;
    browser()?;
    eprintln!(
        "xtask: ci passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_owned()
}

fn run(command: &mut Command) -> Result<()> {
    eprintln!("xtask: running {command:?}");
    let status = command
        .status()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed with {status}"))
    }
}

fn output(command: &mut Command) -> Result<String> {
    let out = command
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{command:?} failed with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn listening(port: u16) -> bool {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok()
}

/// Waits for a service that was just started to accept connections (start-up, not a test).
fn wait_listening(
    service: &str,
    port: u16,
    log: &Path,
    mut child: Option<&mut std::process::Child>,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if listening(port) {
            return Ok(());
        }
        if let Some(status) = child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!(
                "{service} exited ({status}) before listening on 127.0.0.1:{port}; its log {}:\n{tail}",
                log.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let tail = std::fs::read_to_string(log).unwrap_or_default();
    Err(format!(
        "{service} did not start listening on 127.0.0.1:{port} within 60 s; its log {}:\n{tail}",
        log.display()
    ))
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0")
}

/// Installs Debian packages (as root), refreshing the package lists first.
fn apt_install(packages: &[&str]) -> Result<()> {
    if !is_root() {
        return Err(format!(
            "the Debian packages {} are missing; install them (sudo apt-get install {}) or run as root",
            packages.join(" "),
            packages.join(" ")
        ));
    }
    eprintln!("xtask: installing Debian packages: {}", packages.join(" "));
    run(Command::new("apt-get").arg("update").arg("-q"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn services() -> Result<()> {
    std::fs::create_dir_all(SERVICES_DIR)
        .map_err(|e| format!("cannot create {SERVICES_DIR}: {e}"))?;
    postgres()?;
    mosquitto()?;
    eprintln!("xtask: services ready: PostgreSQL+PostGIS {PG_URL}, Mosquitto {MQTT_ADDR}");
    Ok(())
}

/// The newest installed PostgreSQL (15 or later): its version and binary folder.
fn installed_postgres() -> Option<(u32, PathBuf)> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (version >= 15 && bin.join("postgres").exists()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop()
}

fn postgres() -> Result<()> {
    let (version, bin) = match installed_postgres() {
        Some(found) => found,
        None => {
            apt_install(&["postgresql", "postgresql-contrib"])?;
            installed_postgres()
                .ok_or("PostgreSQL 15 or later is still missing after installing it")?
        }
    };
    let postgis = PathBuf::from(format!(
        "/usr/share/postgresql/{version}/extension/postgis.control"
    ));
    if !postgis.exists() {
        apt_install(&[&format!("postgresql-{version}-postgis-3")])?;
    }
    if !listening(PG_PORT) {
        start_postgres(&bin)?;
    }
    drop_stale_test_databases(&bin)
}

/// Runs a PostgreSQL program as the `postgres` user when we are root (the server refuses root).
fn as_postgres(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(bin.join(program));
        command
    } else {
        Command::new(bin.join(program))
    }
}

fn start_postgres(bin: &Path) -> Result<()> {
    let data = Path::new(SERVICES_DIR).join("pg");
    let log = Path::new(SERVICES_DIR).join("pg.log");
    if !data.join("PG_VERSION").exists() {
        std::fs::create_dir_all(&data)
            .map_err(|e| format!("cannot create {}: {e}", data.display()))?;
        if is_root() {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(&data))?;
        }
        run(as_postgres(bin, "initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
        ]))?;
    }
    if is_root() {
        // Only PostgreSQL's own files: Mosquitto keeps its files in a sibling folder.
        if !log.exists() {
            std::fs::write(&log, "")
                .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        }
        run(Command::new("chown")
            .arg("-R")
            .arg("postgres:postgres")
            .arg(&data)
            .arg(&log))?;
    }
    let settings = format!(
        "-c listen_addresses=127.0.0.1 -p {PG_PORT} -c unix_socket_directories={} -c max_connections=200",
        data.display()
    );
    run(as_postgres(bin, "pg_ctl")
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(&log)
        .args(["-o", &settings, "-w", "-t", "60", "start"]))?;
    wait_listening("PostgreSQL", PG_PORT, &log, None)
}

/// Test databases are named `jz_t_…`; those left by earlier runs are dropped.
fn drop_stale_test_databases(bin: &Path) -> Result<()> {
    let psql = |sql: &str| {
        output(Command::new(bin.join("psql")).args([
            "-h",
            "127.0.0.1",
            "-p",
            &PG_PORT.to_string(),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-Atqc",
            sql,
        ]))
    };
    let stale = psql("SELECT datname FROM pg_database WHERE datname LIKE 'jz\\_t\\_%'")?;
    for name in stale.lines().filter(|n| !n.is_empty()) {
        psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    }
    Ok(())
}

fn mosquitto_binary() -> Option<PathBuf> {
    ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn mosquitto() -> Result<()> {
    if listening(MQTT_PORT) {
        return Ok(());
    }
    let binary = match mosquitto_binary() {
        Some(binary) => binary,
        None => {
            apt_install(&["mosquitto"])?;
            mosquitto_binary().ok_or("mosquitto is still missing after installing it")?
        }
    };
    // Mosquitto runs in the foreground of its own process group, logging to stderr, which goes to
    // a file opened here: no pid or log file has to be writable by the user it drops root to, and
    // a failed start leaves its reason in the log.
    let dir = Path::new(SERVICES_DIR).join("mosquitto");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let config = dir.join("mosquitto.conf");
    let log = dir.join("mosquitto.log");
    std::fs::write(
        &config,
        format!("listener {MQTT_PORT} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n"),
    )
    .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let stderr = log_file
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    eprintln!(
        "xtask: starting {} -c {}",
        binary.display(),
        config.display()
    );
    let mut child = Command::new(&binary)
        .arg("-c")
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .stdout(log_file)
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    std::fs::write(dir.join("mosquitto.pid"), child.id().to_string())
        .map_err(|e| format!("cannot record Mosquitto's pid: {e}"))?;
    wait_listening("Mosquitto", MQTT_PORT, &log, Some(&mut child))
}

fn stop_services() -> Result<()> {
    if let Some((_, bin)) = installed_postgres() {
        let data = Path::new(SERVICES_DIR).join("pg");
        if data.join("postmaster.pid").exists() {
            run(as_postgres(&bin, "pg_ctl")
                .arg("-D")
                .arg(&data)
                .args(["-m", "fast", "stop"]))?;
        }
    }
    let pid_file = Path::new(SERVICES_DIR)
        .join("mosquitto")
        .join("mosquitto.pid");
    if let Ok(pid) = std::fs::read_to_string(&pid_file) {
        let _ = Command::new("kill").arg(pid.trim()).status();
        let _ = std::fs::remove_file(pid_file);
    }
    Ok(())
}

const FUZZ_VENV: &str = "/var/tmp/jingzhi-fuzz";
const FUZZ_PORT: u16 = 18081;

/// `cargo xtask fuzz-api [SECONDS]`: a property-based API fuzzer (schemathesis, from PyPI, in a
/// virtualenv of its own) against a release server on a fresh database with Shanghai imported,
/// authenticated as a city operator. Fails on any 5xx or any answer that breaks the OpenAPI
/// document (schema, status code, content type). Needs the network once, to install
/// schemathesis; not part of `ci`.
fn fuzz_api(seconds: Option<&str>) -> Result<()> {
    let seconds: u32 = seconds
        .unwrap_or("300")
        .parse()
        .map_err(|_| "fuzz-api takes the time budget in seconds, e.g. 300".to_string())?;
    let st = Path::new(FUZZ_VENV).join("bin/st");
    if !st.exists() {
        eprintln!("xtask: installing schemathesis into {FUZZ_VENV}");
        run(Command::new("python3").args(["-m", "venv", FUZZ_VENV]))?;
        run(Command::new(Path::new(FUZZ_VENV).join("bin/pip")).args([
            "install",
            "-q",
            "schemathesis>=4,<5",
        ]))?;
    }
    run(Command::new("cargo").args(["build", "--release", "-p", "jingzhi"]))?;
    let binary = Path::new("target/release/jingzhi");
    let data = std::env::temp_dir().join(format!("jingzhi-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let jingzhi = |args: &[&str]| {
        let mut command = Command::new(binary);
        command.arg("--data").arg(&data).args(args);
        command
    };
    run(&mut jingzhi(&["import", "shanghai"]))?;
    // Two passes: as a city operator (the case loop) and as an administrator (the rules, users
    // and keys), half of the time budget each.
    let mut tokens = Vec::new();
    for (name, role) in [("fuzzer", "city_operator"), ("fuzz-admin", "admin")] {
        let added = output(&mut jingzhi(&[
            "users", "add", "--name", name, "--role", role,
        ]))?;
        let token = added
            .lines()
            .find_map(|line| line.split("API token (shown only now): ").nth(1))
            .ok_or("could not read the fuzzer's token from `jingzhi users add`")?
            .trim()
            .to_owned();
        tokens.push(token);
    }
    let listen = format!("127.0.0.1:{FUZZ_PORT}");
    let mut server = jingzhi(&["serve", "--listen", &listen])
        .env("JINGZHI_RATE_LIMIT", "0")
        .spawn()
        .map_err(|e| format!("cannot start jingzhi serve: {e}"))?;
    let outcome = wait_listening("jingzhi", FUZZ_PORT, Path::new("/dev/null"), Some(&mut server))
        .and_then(|()| {
            tokens.iter().try_for_each(|token| {
                run(Command::new(&st).args([
                    "run",
                    &format!("http://{listen}/api/v1/openapi.json"),
                    "--url",
                    &format!("http://{listen}/api/v1"),
                    "--header",
                    &format!("Authorization: Bearer {token}"),
                    "--checks",
                    "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
                    "--max-time",
                    &(seconds / 2).max(1).to_string(),
                    "--wait-for-schema",
                    "60",
                ]))
            })
        });
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&data);
    outcome
}

const CHROMIUM: &str = "/usr/bin/chromium";
/// A CJK font, so that screenshots show Chinese text instead of empty boxes.
const CJK_FONT: &str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";

/// `cargo xtask browser`: the web console driven through Debian's headless Chromium by the Node
/// tests in `tests/browser` (playwright-core), against a debug server on a fresh database holding
/// the small test city of `tests/browser/fixtures`. Screenshots and the server's log go to
/// `target/browser-artifacts`. Installs Chromium (and a CJK font) from Debian and the tests'
/// npm packages when they are missing.
fn browser() -> Result<()> {
    let started = Instant::now();
    let root = workspace_root();
    let tests = root.join("tests/browser");
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push("chromium");
    }
    if !Path::new(CJK_FONT).exists() {
        missing.push("fonts-wqy-microhei");
    }
    if !missing.is_empty() {
        apt_install(&missing)?;
    }
    if !tests.join("node_modules").exists() {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&tests))?;
    }
    run(Command::new("cargo")
        .args(["build", "-p", "jingzhi"])
        .current_dir(&root))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let binary = target.join("debug/jingzhi");
    let data = target.join("browser-data");
    let artifacts = target.join("browser-artifacts");
    for dir in [&data, &artifacts] {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let jingzhi = |args: &[&str]| {
        let mut command = Command::new(&binary);
        command.arg("--data").arg(&data).args(args);
        command
    };
    let fixtures = tests.join("fixtures");
    run(jingzhi(&["import", "divisions"])
        .arg(fixtures.join("city.geojson"))
        .arg(fixtures.join("codes.csv")))?;
    // A zone over the 湖滨 street, so that scorecards read a goal cluster (commercial district's).
    run(jingzhi(&[
        "zones",
        "create",
        "hubin-commercial",
        "--name",
        "湖滨商圈",
        "--type",
        "commercial_district",
        "--geojson",
    ])
    .arg(fixtures.join("zone.geojson")))?;
    let added = output(&mut jingzhi(&[
        "users",
        "add",
        "--name",
        "browser-admin",
        "--role",
        "admin",
    ]))?;
    let token = added
        .lines()
        .find_map(|line| line.split("API token (shown only now): ").nth(1))
        .ok_or("could not read the administrator's token from `jingzhi users add`")?
        .trim()
        .to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|e| format!("cannot find a free loopback port: {e}"))?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let log = artifacts.join("server.log");
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let stderr = log_file
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    let mut server = jingzhi(&["serve", "--listen", &listen])
        .env("JINGZHI_RATE_LIMIT", "0")
        .stdin(std::process::Stdio::null())
        .stdout(log_file)
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start jingzhi serve: {e}"))?;
    let node = |args: &[&str]| {
        let mut command = Command::new("node");
        command
            .args(args)
            .current_dir(&tests)
            .env("JZ_BASE_URL", format!("http://{listen}"))
            .env("JZ_ADMIN_TOKEN", &token)
            .env("JZ_ARTIFACTS", &artifacts)
            .env("CHROMIUM", CHROMIUM);
        command
    };
    let outcome = wait_listening("jingzhi", port, &log, Some(&mut server))
        .and_then(|()| run(&mut node(&["seed.js"])))
        .and_then(|()| {
            run(&mut node(&[
                "--test",
                "--test-concurrency=1",
                "--test-reporter=spec",
                "tests/",
            ]))
        });
    let _ = server.kill();
    let _ = server.wait();
    outcome.map_err(|e| {
        format!(
            "{e}\nscreenshots and the server's log are in {}",
            artifacts.display()
        )
    })?;
    eprintln!(
        "xtask: browser tests passed in {:.0} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        artifacts.display()
    );
    Ok(())
}
