//! The web console as the router serves it: the page at `/` with its security headers, assets
//! with their content types and cache rules (ETag revalidation, a year for vendored files), 404
//! for what is not there; and the console's own consistency — every module it imports and every
//! file its page loads is served, every text key it uses is in the string table in both
//! languages.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jz_app::city::SharedCity;
use jz_http::AppState;
use tower::ServiceExt;

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

async fn app() -> (axum::Router, jz_testkit::TestDb) {
    let db = jz_testkit::TestDb::sqlite();
    let store = db.open().await;
    let city = std::sync::Arc::new(SharedCity::new(
        jz_app::city::load_model(&store).await.unwrap(),
    ));
    let app = jz_http::router(AppState::open(store, city).await.unwrap());
    (app, db)
}

async fn get(app: &axum::Router, uri: &str, etag: Option<&str>) -> Answer {
    let mut request = Request::get(uri);
    if let Some(etag) = etag {
        request = request.header(header::IF_NONE_MATCH, etag);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: body.to_vec(),
    }
}

fn header_of(answer: &Answer, name: header::HeaderName) -> String {
    answer
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn console_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("console")
}

fn files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, found);
        } else {
            found.push(path);
        }
    }
}

/// The console's own scripts (not the vendored libraries).
fn scripts() -> Vec<(String, String)> {
    let mut found = Vec::new();
    files(&console_dir().join("js"), &mut found);
    found.sort();
    found
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "js"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn the_page_is_served_at_the_root_with_its_security_headers() {
    let (app, _db) = app().await;
    let page = get(&app, "/", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        header_of(&page, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    let policy = header_of(&page, header::CONTENT_SECURITY_POLICY);
    assert!(policy.contains("default-src 'self'"), "{policy}");
    assert!(policy.contains("worker-src 'self' blob:"), "{policy}");
    assert_eq!(header_of(&page, header::X_FRAME_OPTIONS), "DENY");
    assert_eq!(header_of(&page, header::CACHE_CONTROL), "no-cache");
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains(r#"<script type="module" src="/console/js/app.js">"#));
}

#[tokio::test]
async fn assets_carry_their_content_type_and_cache_rule() {
    let (app, _db) = app().await;
    for (uri, content_type, cache) in [
        (
            "/console/vendor/maplibre-gl.mjs",
            "text/javascript; charset=utf-8",
            "public, max-age=31536000, immutable",
        ),
        (
            "/console/vendor/maplibre-gl-worker.mjs",
            "text/javascript; charset=utf-8",
            "public, max-age=31536000, immutable",
        ),
        (
            "/console/vendor/maplibre-gl.css",
            "text/css; charset=utf-8",
            "public, max-age=31536000, immutable",
        ),
        (
            "/console/vendor/echarts.min.js",
            "text/javascript; charset=utf-8",
            "public, max-age=31536000, immutable",
        ),
        (
            "/console/js/app.js",
            "text/javascript; charset=utf-8",
            "no-cache",
        ),
        ("/console/style.css", "text/css; charset=utf-8", "no-cache"),
    ] {
        let answer = get(&app, uri, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}");
        assert_eq!(
            header_of(&answer, header::CONTENT_TYPE),
            content_type,
            "{uri}"
        );
        assert_eq!(header_of(&answer, header::CACHE_CONTROL), cache, "{uri}");
        assert_eq!(
            header_of(&answer, header::X_CONTENT_TYPE_OPTIONS),
            "nosniff"
        );
        assert!(!answer.body.is_empty(), "{uri}");
        // The ETag revalidates: the same tag answers 304 without a body.
        let etag = header_of(&answer, header::ETAG);
        assert!(
            etag.starts_with('"') && etag.ends_with('"'),
            "{uri}: {etag}"
        );
        let again = get(&app, uri, Some(&etag)).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{uri}");
        assert!(again.body.is_empty());
        let other = get(&app, uri, Some("\"something-else\"")).await;
        assert_eq!(other.status, StatusCode::OK, "{uri}");
    }
}

#[tokio::test]
async fn what_the_console_does_not_have_is_not_found() {
    let (app, _db) = app().await;
    for uri in [
        "/console/nothing.js",
        "/console/vendor/",
        "/console/../Cargo.toml",
    ] {
        let answer = get(&app, uri, None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{uri}");
        let error: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(error["error"]["code"], "not_found", "{uri}");
    }
}

#[tokio::test]
async fn every_module_import_and_page_asset_is_served() {
    let (app, _db) = app().await;
    let mut wanted = BTreeSet::new();
    for (name, text) in scripts() {
        for (at, _) in text.match_indices(" from '") {
            let target = text[at + " from '".len()..].split('\'').next().unwrap();
            wanted.insert((name.clone(), format!("js/{target}")));
        }
        for (at, _) in text.match_indices("import('") {
            let target = text[at + "import('".len()..].split('\'').next().unwrap();
            wanted.insert((name.clone(), format!("js/{target}")));
        }
        for (at, _) in text.match_indices("'/console/") {
            let target = text[at + "'/console/".len()..].split('\'').next().unwrap();
            wanted.insert((name.clone(), target.to_owned()));
        }
    }
    let html = std::fs::read_to_string(console_dir().join("index.html")).unwrap();
    for (at, _) in html.match_indices("\"/console/") {
        let target = html[at + "\"/console/".len()..].split('"').next().unwrap();
        wanted.insert(("index.html".into(), target.to_owned()));
    }
    assert!(
        wanted.len() > 20,
        "the import scan found too little: {wanted:?}"
    );
    for (from, target) in wanted {
        // Resolve `js/./x.js` and `js/../vendor/x.mjs` as the browser does.
        let mut parts: Vec<&str> = Vec::new();
        for part in target.split('/') {
            match part {
                "." => {}
                ".." => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        let uri = format!("/console/{}", parts.join("/"));
        let answer = get(&app, &uri, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{from} loads {uri}");
    }
}

/// The keys of the string table in i18n.js, each with its two translations.
fn string_table() -> Vec<(String, usize)> {
    let text = std::fs::read_to_string(console_dir().join("js/i18n.js")).unwrap();
    let table = text
        .split_once("const STRINGS = {")
        .unwrap()
        .1
        .split_once("\n};")
        .unwrap()
        .0;
    table
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//"))
        .map(|line| {
            let (key, rest) = line.split_once(": [").unwrap_or_else(|| panic!("{line}"));
            // Two quoted strings: four quote marks.
            (key.to_owned(), rest.matches('\'').count())
        })
        .collect()
}

#[test]
fn every_text_key_the_console_uses_has_both_languages() {
    let table = string_table();
    let keys: BTreeSet<&str> = table.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys.len(), table.len(), "a key appears twice in i18n.js");
    for (key, quotes) in &table {
        assert_eq!(*quotes, 4, "{key}: Chinese and English, one string each");
    }
    let mut missing = Vec::new();
    let mut used = 0;
    for (name, text) in scripts() {
        for (at, _) in text.match_indices("t('") {
            let before = text[..at].chars().last();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let key = text[at + 3..].split('\'').next().unwrap();
            used += 1;
            if !keys.contains(key) {
                missing.push(format!("{name}: {key}"));
            }
        }
    }
    assert!(used > 100, "the key scan found only {used} uses");
    assert!(
        missing.is_empty(),
        "keys missing from i18n.js: {missing:#?}"
    );
}
