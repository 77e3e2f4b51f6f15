//! Service requests: the public list and one request (cases of the city, without personal
//! data), posting a request into the one intake every channel uses, tokens, and public media.

use std::collections::HashMap;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jz_app::cases::config::CaseConfig;
use jz_app::cases::intake::{Outcome, ReportInput, Reporter};
use jz_app::cases::keys::{ApiKey, Scope};
use jz_app::cases::users::User;
use jz_app::cases::{MAX_PHOTOS, now_us};
use jz_app::city::model::LocateError;
use jz_app::open311::{
    self as catalogue, MAX_PAGE_SIZE, MAX_SPAN_US, MAX_TEXT_CHARS, MAX_URL_CHARS, RequestAddition,
    RequestExtras, RequestQuery, RequestRecord, Service,
};
use jz_domain::case::Channel;
use jz_geo::datum::Datum;

use super::error::Open311Error;
use super::params::{Params, read_submission};
use super::wire::{Format, Node, respond};
use super::{BASE_PATH, Get, Settings};
use crate::AppState;

/// Most ids one `service_request_id` list may name.
const MAX_IDS: usize = MAX_PAGE_SIZE as usize;
/// Longest client idempotency key (`Idempotency-Key` header).
const MAX_CLIENT_KEY_CHARS: usize = 64;
/// Longest reporter field.
const MAX_REPORTER_CHARS: usize = 200;

/// The public URL of a photo attached to a case.
pub(super) fn media_url(origin: &str, photo_id: &str) -> String {
    format!("{origin}{BASE_PATH}/media/{photo_id}")
}

/// The `[from, until)` window of `start_date`/`end_date` (the end inclusive; an end date
/// without a time means that whole day), at most 90 days; the last 90 days when neither is
/// given, 90 days from the start or up to the end when one is.
pub(super) fn date_window(
    params: &Params,
    config: &CaseConfig,
    now: i64,
    problems: &mut Vec<String>,
) -> (i64, i64) {
    const DAY_US: i64 = 24 * 3600 * 1_000_000;
    let tz = config.calendar.time_zone();
    let mut parse = |name: &str| {
        let text = params.get(name)?;
        match catalogue::parse_w3c(text, tz) {
            Ok(us) => Some((us, text.trim().len() == 10)),
            Err(e) => {
                problems.push(format!(
                    "{name}: `{text}` is not a W3C datetime like 2026-10-08T09:30:00+08:00 ({e})"
                ));
                None
            }
        }
    };
    let start = parse("start_date").map(|(us, _)| us);
    let until =
        parse("end_date").map(|(us, date_only)| if date_only { us + DAY_US } else { us + 1 });
    match (start, until) {
        (Some(start), Some(until)) => {
            if until <= start {
                problems.push("end_date: must not be before start_date".into());
            } else if until - start > MAX_SPAN_US + 1 {
                problems.push(
                    "end_date: the span from start_date to end_date may not exceed 90 days".into(),
                );
            }
            (start, until)
        }
        (Some(start), None) => (start, start.saturating_add(MAX_SPAN_US + 1)),
        (None, Some(until)) => (until.saturating_sub(MAX_SPAN_US + 1), until),
        (None, None) => (now - MAX_SPAN_US, now + 1),
    }
}

/// `page` (from 1) and `page_size` (1…1000, default 1000) as offset and limit.
pub(super) fn paging(params: &Params, problems: &mut Vec<String>) -> (i64, i64) {
    let number = |name: &str, max: i64, problems: &mut Vec<String>| {
        let text = params.get(name)?;
        match text.trim().parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Some(n),
            _ => {
                problems.push(format!(
                    "{name}: a whole number from 1 to {max}, not `{text}`"
                ));
                None
            }
        }
    };
    let size = number("page_size", MAX_PAGE_SIZE, problems).unwrap_or(MAX_PAGE_SIZE);
    let page = number("page", 1_000_000, problems).unwrap_or(1);
    ((page - 1) * size, size)
}

/// `extensions=true` (also `1`); `false`, `0` or absent: the plain fields.
fn extensions(params: &Params, problems: &mut Vec<String>) -> bool {
    match params
        .get("extensions")
        .map(|v| v.trim().to_ascii_lowercase())
    {
        None => false,
        Some(v) if v == "true" || v == "1" => true,
        Some(v) if v == "false" || v == "0" => false,
        Some(v) => {
            problems.push(format!("extensions: true or false, not `{v}`"));
            false
        }
    }
}

fn request_node(
    record: &RequestRecord,
    config: &CaseConfig,
    origin: &str,
    extras: Option<&RequestExtras>,
    services: &HashMap<String, Service>,
) -> Node {
    let case = &record.case;
    let tz = config.calendar.time_zone();
    let w3c = |us: i64| Node::text(catalogue::format_w3c(us, tz));
    let category = case.category.as_deref().and_then(|c| config.category(c));
    let media = record
        .photo
        .as_deref()
        .map(|id| media_url(origin, id))
        .or_else(|| record.media_urls.first().cloned());
    let updated = if case.state.is_open() {
        record.updated_at_us
    } else {
        case.closed_at_us.unwrap_or(record.updated_at_us)
    };
    let mut fields = vec![
        ("service_request_id", Node::text(case.id.clone())),
        ("status", Node::text(catalogue::status(case.state))),
        (
            "status_notes",
            Node::text(catalogue::status_notes(
                case.state,
                record.reason.as_deref(),
            )),
        ),
        ("service_name", Node::opt(category.map(|c| c.name.clone()))),
        ("service_code", Node::opt(case.category.clone())),
        ("description", Node::text(case.description.clone())),
        (
            "agency_responsible",
            Node::opt(catalogue::agency_responsible(case, config)),
        ),
        (
            "service_notice",
            Node::text(catalogue::service_notice(
                case,
                config,
                record.reason.as_deref(),
            )),
        ),
        ("requested_datetime", w3c(case.reported_at_us)),
        ("updated_datetime", w3c(updated)),
        (
            "expected_datetime",
            catalogue::expected_at_us(case).map_or(Node::Null, w3c),
        ),
        ("address", Node::opt(record.address.clone())),
        ("address_id", Node::Null),
        ("zipcode", Node::Null),
        ("lat", Node::Number(case.place.lat)),
        ("long", Node::Number(case.place.lon)),
        ("media_url", Node::opt(media)),
    ];
    if let Some(extras) = extras {
        let definitions = case
            .category
            .as_deref()
            .and_then(|c| services.get(c))
            .map(|s| s.attributes.as_slice())
            .unwrap_or_default();
        let mut attributes = Vec::new();
        for answer in &extras.answers {
            let definition = definitions.iter().find(|d| d.code == answer.code);
            for value in &answer.values {
                let name = definition
                    .and_then(|d| d.values.iter().find(|v| &v.key == value))
                    .map_or_else(|| value.clone(), |v| v.name.clone());
                attributes.push(Node::Object(vec![
                    (
                        "label",
                        Node::text(
                            definition
                                .map_or_else(|| answer.code.clone(), |d| d.description.clone()),
                        ),
                    ),
                    ("name", Node::text(name)),
                    ("value", Node::text(value.clone())),
                    ("code", Node::text(answer.code.clone())),
                ]));
            }
        }
        fields.push(("attributes", Node::List("attribute", attributes)));
        fields.push((
            "extended_attributes",
            Node::Object(vec![
                ("channel", Node::text(case.channel.as_str())),
                ("state", Node::text(case.state.as_str())),
                (
                    "photos",
                    Node::List(
                        "photo",
                        extras
                            .photos
                            .iter()
                            .map(|id| Node::text(media_url(origin, id)))
                            .collect(),
                    ),
                ),
            ]),
        ));
        fields.push((
            "notes",
            Node::List(
                "note",
                extras
                    .events
                    .iter()
                    .map(|event| {
                        Node::Object(vec![
                            ("datetime", w3c(event.at_us)),
                            ("description", Node::text(event.description.clone())),
                            ("type", Node::text(event.kind.clone())),
                        ])
                    })
                    .collect(),
            ),
        ));
    }
    Node::Object(fields)
}

async fn answer_requests(
    state: &AppState,
    settings: &Settings,
    get: &Get,
    query: &RequestQuery,
    with_extensions: bool,
    format: Format,
) -> Result<(Response, usize), Open311Error> {
    let config = state.cases.config.current();
    let records = catalogue::list_requests(&state.store, query).await?;
    let (services, extras) = if with_extensions {
        let services: HashMap<String, Service> = catalogue::services(&state.cases, now_us())
            .await?
            .into_iter()
            .map(|s| (s.code.clone(), s))
            .collect();
        let ids: Vec<String> = records.iter().map(|r| r.case.id.clone()).collect();
        let extras = catalogue::request_extras(&state.store, &config, &ids).await?;
        (services, extras)
    } else {
        (HashMap::new(), HashMap::new())
    };
    let origin = settings.origin(&get.headers);
    let empty = RequestExtras::default();
    let nodes: Vec<Node> = records
        .iter()
        .map(|record| {
            let extra = with_extensions.then(|| extras.get(&record.case.id).unwrap_or(&empty));
            request_node(record, &config, &origin, extra, &services)
        })
        .collect();
    let count = nodes.len();
    Ok((
        respond(
            format,
            StatusCode::OK,
            "service_requests",
            &Node::List("request", nodes),
        ),
        count,
    ))
}

/// `GET requests.{fmt}`: newest first; `service_request_id` (a comma list) overrides every
/// other filter; otherwise `service_code`, `start_date`/`end_date`, `status`, `page`,
/// `page_size` combine.
pub(super) async fn list(
    state: &AppState,
    settings: &Settings,
    get: &Get,
    format: Format,
) -> Result<Response, Open311Error> {
    let params = &get.params;
    settings.check_jurisdiction(params)?;
    let mut problems = Vec::new();
    let with_extensions = extensions(params, &mut problems);
    let ids = params.list("service_request_id");
    let query = if !ids.is_empty() {
        if ids.len() > MAX_IDS {
            problems.push(format!("service_request_id: at most {MAX_IDS} ids"));
        }
        RequestQuery {
            limit: MAX_PAGE_SIZE,
            ids,
            ..RequestQuery::default()
        }
    } else {
        let config = state.cases.config.current();
        let (from_us, until_us) = date_window(params, &config, now_us(), &mut problems);
        let (offset, limit) = paging(params, &mut problems);
        let (mut open, mut closed) = (false, false);
        for status in params.list("status") {
            match status.to_ascii_lowercase().as_str() {
                "open" => open = true,
                "closed" => closed = true,
                _ => problems.push(format!("status: `{status}` is not open or closed")),
            }
        }
        RequestQuery {
            ids: Vec::new(),
            service_codes: params.list("service_code"),
            from_us,
            until_us,
            open: match (open, closed) {
                (true, false) => Some(true),
                (false, true) => Some(false),
                _ => None,
            },
            offset,
            limit,
        }
    };
    if !problems.is_empty() {
        return Err(Open311Error::fields(problems));
    }
    answer_requests(state, settings, get, &query, with_extensions, format)
        .await
        .map(|(response, _)| response)
}

/// `GET requests/{id}.{fmt}`: one request in the list wrapper, or 404.
pub(super) async fn one(
    state: &AppState,
    settings: &Settings,
    get: &Get,
    id: &str,
    format: Format,
) -> Result<Response, Open311Error> {
    let params = &get.params;
    settings.check_jurisdiction(params)?;
    let mut problems = Vec::new();
    let with_extensions = extensions(params, &mut problems);
    if !problems.is_empty() {
        return Err(Open311Error::fields(problems));
    }
    let query = RequestQuery {
        ids: vec![id.to_owned()],
        limit: 1,
        ..RequestQuery::default()
    };
    let (response, count) =
        answer_requests(state, settings, get, &query, with_extensions, format).await?;
    if count == 0 {
        return Err(Open311Error::not_found(format!(
            "service_request_id: no request `{id}`"
        )));
    }
    Ok(response)
}

/// `GET tokens/{token}.{fmt}`: every service is `realtime` (the id comes back at once), so no
/// token is ever issued and every token is unknown.
pub(super) fn token(settings: &Settings, get: &Get, token: &str) -> Result<Response, Open311Error> {
    let params = &get.params;
    settings.check_jurisdiction(params)?;
    Err(Open311Error::not_found(format!(
        "token: unknown token `{token}`; every service here is realtime and answers with its service_request_id at once"
    )))
}

/// `GET media/{id}`: a photo attached to a case, public and cacheable.
pub(super) async fn media(state: &AppState, id: &str) -> Result<Response, Open311Error> {
    let (content_type, bytes) = catalogue::public_photo(&state.store, id)
        .await?
        .ok_or_else(|| Open311Error::not_found(format!("media: no media `{id}`")))?;
    let mut response = bytes.into_response();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    Ok(response)
}

/// The key of a POST (`api_key` from the form or the query): 403 when missing, unknown,
/// revoked or without the `open311` scope; 429 when it spent its rate.
pub(super) async fn authenticate(
    state: &AppState,
    params: &Params,
) -> Result<(User, ApiKey), Open311Error> {
    let secret = params.get("api_key").map(str::trim).ok_or_else(|| {
        Open311Error::forbidden(
            "api_key: required to post; ask the city for a key with the open311 scope",
        )
    })?;
    Ok(state
        .keys
        .authenticate(&state.store, secret, Scope::Open311)
        .await?)
}

/// Problems with a media URL given by a client.
pub(super) fn check_url(field: &str, url: &str, problems: &mut Vec<String>) {
    let lower = url.trim().to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://"))
        || url.chars().count() > MAX_URL_CHARS
        || url
            .trim()
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        problems.push(format!(
            "{field}: an http or https URL of at most {MAX_URL_CHARS} characters"
        ));
    }
}

/// The reporter's name from `first_name` and `last_name` (family name first for Chinese names).
fn reporter_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    let first = first.map(str::trim).filter(|s| !s.is_empty());
    let last = last.map(str::trim).filter(|s| !s.is_empty());
    let cjk = |s: &str| s.chars().any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c));
    match (first, last) {
        (Some(f), Some(l)) if cjk(f) && cjk(l) => Some(format!("{l}{f}")),
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => None,
    }
}

/// `POST requests.{fmt}`: a report through the one intake, as the key's user, on the Open311
/// channel. Answers the case's id (an existing case's when the report was merged into it).
pub(super) async fn post(
    state: &AppState,
    settings: &Settings,
    request: Request,
    format: Format,
) -> Result<Response, Open311Error> {
    let (parts, body) = request.into_parts();
    let origin = crate::auth::origin(&parts);
    let client_key = parts
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    let submission =
        read_submission(Request::from_parts(parts, body), crate::MAX_BODY_BYTES).await?;
    let params = &submission.params;
    settings.check_jurisdiction(params)?;
    let (user, key) = authenticate(state, params).await?;
    let actor = user.actor();
    let config = state.cases.config.current();
    let tz = config.calendar.time_zone();

    let mut problems: Vec<String> = Vec::new();
    let service = match params.get("service_code").map(str::trim) {
        Some(code) => Some(super::services::find(state, code).await?),
        None => {
            problems.push("service_code: required; see services.xml or services.json".into());
            None
        }
    };
    let number = |name: &str, range: std::ops::RangeInclusive<f64>, problems: &mut Vec<String>| {
        let text = params.get(name)?;
        match text.trim().parse::<f64>() {
            Ok(n) if n.is_finite() && range.contains(&n) => Some(n),
            _ => {
                problems.push(format!(
                    "{name}: `{text}` is not a WGS-84 {} in {}…{}",
                    if name == "lat" {
                        "latitude"
                    } else {
                        "longitude"
                    },
                    range.start(),
                    range.end()
                ));
                None
            }
        }
    };
    let location = match (params.get("lat"), params.get("long")) {
        (Some(_), Some(_)) => {
            let lat = number("lat", -90.0..=90.0, &mut problems);
            let lon = number("long", -180.0..=180.0, &mut problems);
            lat.zip(lon)
        }
        (Some(_), None) => {
            problems.push("long: lat and long go together; long is missing".into());
            None
        }
        (None, Some(_)) => {
            problems.push("lat: lat and long go together; lat is missing".into());
            None
        }
        (None, None) => {
            if params.get("address_string").is_some() || params.get("address_id").is_some() {
                problems.push(
                    "lat/long: Jingzhi locates reports by coordinates; send lat and long (WGS-84) with the address"
                        .into(),
                );
            } else {
                problems.push("lat/long: a location is required: lat and long (WGS-84)".into());
            }
            None
        }
    };
    // Locate before anything is stored, so a point outside the city leaves no orphan photos
    // and is reported with the other bad fields.
    if let Some((lat, lon)) = location {
        match state.city.current().locate(lon, lat, Datum::Wgs84) {
            Ok(_) => {}
            Err(LocateError::NoBoundaries) => {
                return Err(jz_app::cases::CaseError::Location(LocateError::NoBoundaries).into());
            }
            Err(error) => problems.push(format!("lat/long: {error}")),
        }
    }
    let answers = match &service {
        Some(service) => {
            match catalogue::validate_answers(&service.attributes, &params.attributes(), tz) {
                Ok(answers) => answers,
                Err(found) => {
                    problems.extend(found.iter().map(ToString::to_string));
                    Vec::new()
                }
            }
        }
        None => Vec::new(),
    };
    let description = params.get("description").map(str::to_owned);
    if let Some(text) = &description
        && text.chars().count() > MAX_TEXT_CHARS
    {
        problems.push(format!(
            "description: at most {MAX_TEXT_CHARS} characters (got {})",
            text.chars().count()
        ));
    }
    let address = params.get("address_string").map(|a| a.trim().to_owned());
    if address
        .as_ref()
        .is_some_and(|a| a.chars().count() > MAX_REPORTER_CHARS)
    {
        problems.push(format!(
            "address_string: at most {MAX_REPORTER_CHARS} characters"
        ));
    }
    let media_urls: Vec<String> = params
        .all("media_url")
        .into_iter()
        .map(|u| u.trim().to_owned())
        .collect();
    for url in &media_urls {
        check_url("media_url", url, &mut problems);
    }
    if submission.files.len() > MAX_PHOTOS {
        problems.push(format!("media: at most {MAX_PHOTOS} files per request"));
    }
    let reporter = Reporter {
        name: reporter_name(params.get("first_name"), params.get("last_name")),
        phone: params.get("phone").map(|v| v.trim().to_owned()),
        email: params.get("email").map(|v| v.trim().to_owned()),
        account: params.get("account_id").map(|v| v.trim().to_owned()),
        device: params.get("device_id").map(|v| v.trim().to_owned()),
    };
    for (field, value) in [
        ("first_name/last_name", &reporter.name),
        ("phone", &reporter.phone),
        ("email", &reporter.email),
        ("account_id", &reporter.account),
        ("device_id", &reporter.device),
    ] {
        if value
            .as_ref()
            .is_some_and(|v| v.chars().count() > MAX_REPORTER_CHARS)
        {
            problems.push(format!("{field}: at most {MAX_REPORTER_CHARS} characters"));
        }
    }
    if client_key
        .as_ref()
        .is_some_and(|k| k.chars().count() > MAX_CLIENT_KEY_CHARS)
    {
        problems.push(format!(
            "Idempotency-Key: at most {MAX_CLIENT_KEY_CHARS} characters"
        ));
    }
    let (Some(service), Some((lat, lon)), true) = (service, location, problems.is_empty()) else {
        return Err(Open311Error::fields(problems));
    };

    let now = now_us();
    let mut photos = Vec::new();
    for file in &submission.files {
        let id = state
            .cases
            .upload_photo(&actor, None, file.bytes.clone(), &origin, now)
            .await
            .map_err(|e| match e {
                jz_app::cases::CaseError::Invalid(message) => Open311Error::bad(format!(
                    "{}: {}",
                    file.part,
                    message.strip_prefix("photo: ").unwrap_or(&message)
                )),
                other => other.into(),
            })?;
        photos.push(id);
    }
    let input = ReportInput {
        channel: Channel::Open311,
        description: description.unwrap_or_else(|| service.name.clone()),
        lon,
        lat,
        datum: Datum::Wgs84,
        address,
        category: Some(service.code.clone()),
        urgency: None,
        reporter,
        intake_key: client_key.map(|k| format!("open311:{}:{k}", key.id)),
        photos,
    };
    let result = state.cases.intake(input, &actor, &origin, now).await?;
    if result.outcome != Outcome::Replayed {
        catalogue::record_request(
            &state.store,
            &RequestAddition {
                report_id: result.report_id.clone(),
                case_id: result.case.id.clone(),
                service_code: service.code.clone(),
                answers,
                media_urls,
                api_key_id: key.id.clone(),
            },
            now,
        )
        .await?;
    }
    let notice = catalogue::service_notice(&result.case, &config, None);
    let notice = match result.outcome {
        Outcome::Linked => format!("已与附近上报的同一问题合并处理；{notice}"),
        _ => notice,
    };
    let node = Node::List(
        "request",
        vec![Node::Object(vec![
            ("service_request_id", Node::text(result.case.id.clone())),
            ("service_notice", Node::text(notice)),
            // The reporter's account is personal data: never echoed.
            ("account_id", Node::Null),
        ])],
    );
    Ok(respond(format, StatusCode::OK, "service_requests", &node))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_join_family_name_first_for_chinese() {
        assert_eq!(
            reporter_name(Some("三"), Some("张")).as_deref(),
            Some("张三")
        );
        assert_eq!(
            reporter_name(Some("John"), Some("Smith")).as_deref(),
            Some("John Smith")
        );
        assert_eq!(reporter_name(None, Some(" Li ")).as_deref(), Some("Li"));
        assert_eq!(reporter_name(Some(" "), None), None);
    }
}
