//! The case closed loop over HTTP: intake, case lists and queues, one case with its timeline,
//! commands, ratings, reporters' personal data (audited), photos, and the rules the loop runs by
//! (categories, departments, responsibility rules, calendar, intake settings).

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use jz_app::cases::config::{self, IntakeSettings};
use jz_app::cases::intake::{Outcome, ReportInput, Reporter};
use jz_app::cases::query::{CaseFilter, EventView, MAX_PHOTO_BYTES, Queue, ReportView};
use jz_app::cases::{Context, now_us};
use jz_domain::access::Role;
use jz_domain::calendar::DayKind;
use jz_domain::case::{Case, CaseState, Channel, Command, Rating};
use jz_domain::category::{Category, Urgency};
use jz_domain::division::DivisionCode;
use jz_domain::responsibility::{Department, ResponsibilityRule};
use jz_geo::datum::Datum;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/reports", post(intake))
        .route("/reports/{id}/rating", post(rate))
        .route("/cases", get(list))
        .route("/cases/{id}", get(detail))
        .route("/cases/{id}/commands", post(command))
        .route("/cases/{id}/reporters", get(reporters))
        .route(
            "/photos",
            post(upload_photo).layer(DefaultBodyLimit::max(MAX_PHOTO_BYTES + 1)),
        )
        .route("/photos/{id}", get(photo))
        .route("/classify", post(classify))
        .route("/categories", get(categories).post(create_category))
        .route("/categories/{code}", get(category).put(update_category))
        .route("/departments", get(departments))
        .route("/departments/{id}", put(put_department))
        .route("/responsibility-rules", get(rules).post(add_rule))
        .route(
            "/responsibility-rules/{id}",
            axum::routing::delete(delete_rule),
        )
        .route("/calendar/days", get(calendar_days))
        .route("/calendar/days/{date}", put(set_day).delete(clear_day))
        .route(
            "/settings/intake",
            get(intake_settings).put(set_intake_settings),
        )
}

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(ApiError::from)
}

fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(q)| q).map_err(ApiError::from)
}

fn admin_actor(caller: &Caller) -> jz_app::city::Actor {
    jz_app::city::Actor {
        actor: caller.actor.id.clone(),
        origin: caller.origin.clone(),
        at_us: now_us(),
    }
}

/// A case as the API shows it: the domain case plus its deadline light.
#[derive(Debug, Serialize)]
pub struct CaseView {
    #[serde(flatten)]
    pub case: Case,
    /// green (< 80 % of the stage's limit used), yellow (80–100 %), red (overdue); null when no
    /// clock runs.
    pub light: Option<&'static str>,
}

fn view(state: &AppState, case: Case) -> CaseView {
    let config = state.cases.config.current();
    let light = case
        .clock
        .as_ref()
        .filter(|_| case.state.is_open() && case.state != CaseState::Suspended)
        .map(|clock| {
            let progress =
                config
                    .calendar
                    .progress(clock.started_at_us, clock.allotted(), now_us());
            match jz_domain::calendar::Light::of(progress) {
                jz_domain::calendar::Light::Green => "green",
                jz_domain::calendar::Light::Yellow => "yellow",
                jz_domain::calendar::Light::Red => "red",
            }
        });
    CaseView { case, light }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LocationBody {
    lon: f64,
    lat: f64,
    #[serde(default)]
    datum: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportBody {
    channel: Option<String>,
    description: String,
    location: Option<LocationBody>,
    address: Option<String>,
    category: Option<String>,
    urgency: Option<String>,
    reporter: Option<Reporter>,
    intake_key: Option<String>,
    photos: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
struct IntakeAnswer {
    outcome: Outcome,
    report_id: String,
    case: CaseView,
    candidates: Vec<CandidateView>,
    needs_confirmation: bool,
}

#[derive(Debug, Serialize)]
struct CandidateView {
    code: String,
    name: Option<String>,
    confidence: f64,
}

/// Which channels each role reports through.
fn channels_for(role: Role) -> &'static [Channel] {
    match role {
        Role::Inspector => &[Channel::Inspector],
        Role::HotlineOperator => &[Channel::Hotline],
        Role::Citizen | Role::CommunityWorker | Role::Volunteer => &[Channel::Web],
        Role::CityOperator | Role::DistrictOperator | Role::StreetOperator => &[
            Channel::Web,
            Channel::Inspector,
            Channel::Open311,
            Channel::Hotline,
            Channel::Sensor,
            Channel::External,
        ],
        _ => &[],
    }
}

async fn intake(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    request: Result<Json<ReportBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let request = body(request)?;
    let allowed = channels_for(caller.actor.role);
    if allowed.is_empty() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "{} may not submit reports",
                caller.actor.role.with_article()
            ),
        ));
    }
    let channel = match &request.channel {
        Some(name) => Channel::from_str(name)
            .map_err(|e| ApiError::new(ErrorCode::InvalidBody, e).field("channel"))?,
        None => allowed[0],
    };
    if !allowed.contains(&channel) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "{} reports through {}, not {}",
                caller.actor.role.with_article(),
                allowed
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                channel.as_str()
            ),
        )
        .field("channel"));
    }
    let location = request.location.ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidBody,
            "location: a report needs a location {lon, lat, datum}",
        )
        .field("location")
    })?;
    let datum = match location.datum.as_deref() {
        None => Datum::Wgs84,
        Some(text) => Datum::from_str(text).map_err(|e| {
            ApiError::new(ErrorCode::InvalidBody, e.to_string()).field("location.datum")
        })?,
    };
    let urgency = request
        .urgency
        .as_deref()
        .map(Urgency::from_str)
        .transpose()
        .map_err(|e| ApiError::new(ErrorCode::InvalidBody, e).field("urgency"))?;
    let header_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let input = ReportInput {
        channel,
        description: request.description,
        lon: location.lon,
        lat: location.lat,
        datum,
        address: request.address,
        category: request.category.filter(|c| !c.is_empty()),
        urgency,
        reporter: request.reporter.unwrap_or_default(),
        intake_key: request.intake_key.or(header_key),
        photos: request.photos.unwrap_or_default(),
    };
    let result = state
        .cases
        .intake(input, &caller.actor, &caller.origin, now_us())
        .await?;
    let config = state.cases.config.current();
    let status = match result.outcome {
        Outcome::Replayed => StatusCode::OK,
        _ => StatusCode::CREATED,
    };
    let candidates: Vec<CandidateView> = result
        .candidates
        .iter()
        .map(|c| CandidateView {
            code: c.code.clone(),
            name: config.category(&c.code).map(|k| k.name.clone()),
            confidence: c.confidence,
        })
        .collect();
    let view = view(&state, result.case);
    if let Some(stored) = result.case_json.as_deref()
        && let Some(body) = answer_with_stored_case(
            result.outcome,
            &result.report_id,
            stored,
            view.light,
            &candidates,
            result.needs_confirmation,
        )
    {
        return Ok((status, [(header::CONTENT_TYPE, "application/json")], body).into_response());
    }
    let answer = IntakeAnswer {
        outcome: result.outcome,
        report_id: result.report_id,
        candidates,
        needs_confirmation: result.needs_confirmation,
        case: view,
    };
    Ok((status, Json(answer)).into_response())
}

/// The JSON of an [`IntakeAnswer`] whose case is the one intake just stored, written around the
/// stored bytes instead of serializing the case again: the same fields in the same order (the
/// case's own, then `light`, as `CaseView` flattens them). `None` if `stored` is not an object.
fn answer_with_stored_case(
    outcome: Outcome,
    report_id: &str,
    stored: &str,
    light: Option<&str>,
    candidates: &[CandidateView],
    needs_confirmation: bool,
) -> Option<Vec<u8>> {
    let fields = stored.strip_suffix('}')?;
    let mut body = Vec::with_capacity(stored.len() + 512);
    body.extend_from_slice(b"{\"outcome\":");
    serde_json::to_writer(&mut body, &outcome).ok()?;
    body.extend_from_slice(b",\"report_id\":");
    serde_json::to_writer(&mut body, report_id).ok()?;
    body.extend_from_slice(b",\"case\":");
    body.extend_from_slice(fields.as_bytes());
    body.extend_from_slice(b",\"light\":");
    serde_json::to_writer(&mut body, &light).ok()?;
    body.extend_from_slice(b"},\"candidates\":");
    serde_json::to_writer(&mut body, candidates).ok()?;
    body.extend_from_slice(b",\"needs_confirmation\":");
    body.extend_from_slice(if needs_confirmation {
        b"true"
    } else {
        b"false"
    });
    body.push(b'}');
    Some(body)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    queue: Option<String>,
    department: Option<String>,
    division: Option<String>,
    grid: Option<String>,
    category: Option<String>,
    channel: Option<String>,
    overdue: Option<bool>,
    reported_since_us: Option<i64>,
    reported_until_us: Option<i64>,
    before: Option<String>,
    limit: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    request: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<CaseView>>, ApiError> {
    let q = query(request)?;
    let states = q
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.split(',')
                .map(|one| CaseState::from_str(one.trim()))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(|e| ApiError::new(ErrorCode::InvalidParameter, e).field("state"))?
        .unwrap_or_default();
    let division = q
        .division
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(DivisionCode::parse)
        .transpose()
        .map_err(|e| ApiError::new(ErrorCode::InvalidParameter, e.to_string()).field("division"))?;
    let queue = q
        .queue
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(Queue::parse)
        .transpose()
        .map_err(|e| ApiError::new(ErrorCode::InvalidParameter, e.to_string()).field("queue"))?;
    let filter = CaseFilter {
        states,
        queue,
        department: q.department.filter(|s| !s.is_empty()),
        division,
        grid: q.grid.filter(|s| !s.is_empty()),
        category: q.category.filter(|s| !s.is_empty()),
        channel: q
            .channel
            .filter(|s| !s.is_empty())
            .map(|c| {
                Channel::from_str(&c)
                    .map(|c| c.as_str().to_owned())
                    .map_err(|e| ApiError::new(ErrorCode::InvalidParameter, e).field("channel"))
            })
            .transpose()?,
        overdue: q.overdue,
        reported_since_us: q.reported_since_us,
        reported_until_us: q.reported_until_us,
        before: q.before.filter(|s| !s.is_empty()),
        limit: q.limit,
    };
    let cases = state
        .cases
        .list(&caller.actor, &filter)
        .await
        .map_err(|e| match e {
            jz_app::cases::CaseError::Invalid(m) => {
                crate::error::with_field(ErrorCode::InvalidParameter, m)
            }
            other => other.into(),
        })?;
    Ok(Json(cases.into_iter().map(|c| view(&state, c)).collect()))
}

#[derive(Debug, Serialize)]
struct CaseDetail {
    case: CaseView,
    timeline: Vec<EventView>,
    reports: Vec<ReportView>,
}

async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CaseDetail>, ApiError> {
    let case = state.cases.get(&caller.actor, &id).await?;
    let timeline = state.cases.timeline(&caller.actor, &id).await?;
    let reports = state.cases.reports(&caller.actor, &id).await?;
    Ok(Json(CaseDetail {
        case: view(&state, case),
        timeline,
        reports,
    }))
}

#[derive(Debug, Deserialize)]
struct CommandBody {
    version: i64,
    #[serde(flatten)]
    command: Command,
    note: Option<String>,
    #[serde(default)]
    photos: Vec<String>,
    position: Option<LocationBody>,
}

async fn command(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request: Result<Json<CommandBody>, JsonRejection>,
) -> Result<Json<CaseView>, ApiError> {
    let request = body(request)?;
    let position = match request.position {
        Some(p) => {
            let datum = match p.datum.as_deref() {
                None => Datum::Wgs84,
                Some(text) => Datum::from_str(text).map_err(|e| {
                    ApiError::new(ErrorCode::InvalidBody, e.to_string()).field("position.datum")
                })?,
            };
            jz_geo::datum::Wgs84Point::new(p.lon, p.lat).map_err(|e| {
                ApiError::new(ErrorCode::InvalidBody, e.to_string()).field("position")
            })?;
            Some(jz_geo::datum::to_wgs84(p.lon, p.lat, datum))
        }
        None => None,
    };
    let context = Context {
        note: request.note.filter(|n| !n.is_empty()),
        photos: request.photos,
        position,
        origin: caller.origin.clone(),
    };
    let case = state
        .cases
        .command(
            &id,
            request.version,
            &request.command,
            &caller.actor,
            &context,
            now_us(),
        )
        .await?;
    Ok(Json(view(&state, case)))
}

async fn reporters(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<jz_app::cases::query::ReporterView>>, ApiError> {
    Ok(Json(
        state
            .cases
            .reporters(&caller.actor, &id, &caller.origin, now_us())
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RatingBody {
    rating: String,
    comment: Option<String>,
}

async fn rate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request: Result<Json<RatingBody>, JsonRejection>,
) -> Result<Json<CaseView>, ApiError> {
    let request = body(request)?;
    let rating = Rating::from_str(&request.rating)
        .map_err(|e| ApiError::new(ErrorCode::InvalidBody, e).field("rating"))?;
    let case = state
        .cases
        .rate(
            &id,
            rating,
            request.comment,
            &caller.actor,
            &caller.origin,
            now_us(),
        )
        .await?;
    Ok(Json(view(&state, case)))
}

async fn upload_photo(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    bytes: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = bytes.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("photo: larger than the {MAX_PHOTO_BYTES}-byte limit"),
            )
        } else {
            ApiError::new(ErrorCode::InvalidBody, rejection.body_text())
        }
    })?;
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("photo: larger than the {MAX_PHOTO_BYTES}-byte limit"),
        ));
    }
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_owned());
    if let Some(declared) = &declared
        && !matches!(declared.as_str(), "image/jpeg" | "image/png" | "image/webp")
    {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "photo: content type {declared} is not accepted; send image/jpeg, image/png or image/webp"
            ),
        ));
    }
    let id = state
        .cases
        .upload_photo(
            &caller.actor,
            declared.as_deref(),
            bytes.to_vec(),
            &caller.origin,
            now_us(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "id": id, "url": format!("/api/v1/photos/{id}") })),
    )
        .into_response())
}

async fn photo(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let photo = state.cases.photo(&caller.actor, &id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, photo.content_type),
            (header::CACHE_CONTROL, "private, max-age=86400".into()),
        ],
        photo.bytes,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassifyBody {
    text: String,
}

async fn classify(
    State(state): State<AppState>,
    _caller: Caller,
    request: Result<Json<ClassifyBody>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let request = body(request)?;
    if request.text.chars().count() > jz_app::cases::intake::MAX_DESCRIPTION_CHARS {
        return Err(
            ApiError::new(ErrorCode::InvalidBody, "text: at most 4000 characters").field("text"),
        );
    }
    let config = state.cases.config.current();
    let candidates: Vec<CandidateView> = jz_classify::shipped()
        .classify(&request.text, 5)
        .into_iter()
        .map(|c| CandidateView {
            name: config.category(&c.code).map(|k| k.name.clone()),
            code: c.code,
            confidence: c.confidence,
        })
        .collect();
    let confident = candidates
        .first()
        .is_some_and(|c| c.confidence >= config.intake.confirm_threshold);
    Ok(Json(serde_json::json!({
        "candidates": candidates,
        "threshold": config.intake.confirm_threshold,
        "needs_confirmation": !confident,
    })))
}

const ADMINS: &[Role] = &[Role::Admin];

async fn categories(State(state): State<AppState>) -> Json<Vec<Category>> {
    let config = state.cases.config.current();
    let mut all: Vec<Category> = config.categories.values().cloned().collect();
    all.sort_by(|a, b| a.code.cmp(&b.code));
    Json(all)
}

async fn category(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<Category>, ApiError> {
    state
        .cases
        .config
        .current()
        .category(&code)
        .cloned()
        .map(Json)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!("category {code} does not exist"),
            )
        })
}

async fn update_category(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    request: Result<Json<Category>, JsonRejection>,
) -> Result<Json<Category>, ApiError> {
    caller.require(ADMINS, "edit categories")?;
    let category = body(request)?;
    if category.code != code {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            format!(
                "code: the body's code {} differs from the path's {code}",
                category.code
            ),
        )
        .field("code"));
    }
    Ok(Json(
        config::update_category(
            &state.store,
            &state.cases.config,
            &admin_actor(&caller),
            category,
        )
        .await?,
    ))
}

async fn create_category(
    State(state): State<AppState>,
    caller: Caller,
    request: Result<Json<Category>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(ADMINS, "create categories")?;
    let category = body(request)?;
    let created = config::create_category(
        &state.store,
        &state.cases.config,
        &admin_actor(&caller),
        category,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn departments(State(state): State<AppState>) -> Json<Vec<Department>> {
    Json(state.cases.config.current().departments.clone())
}

async fn put_department(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request: Result<Json<Department>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(ADMINS, "edit departments")?;
    let department = body(request)?;
    if department.id != id {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            format!(
                "id: the body's id {} differs from the path's {id}",
                department.id
            ),
        )
        .field("id"));
    }
    let existed = state
        .cases
        .config
        .current()
        .departments
        .iter()
        .any(|d| d.id == id);
    let saved = config::put_department(
        &state.store,
        &state.cases.config,
        &admin_actor(&caller),
        department,
    )
    .await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(saved)).into_response())
}

async fn rules(State(state): State<AppState>) -> Json<Vec<ResponsibilityRule>> {
    Json(state.cases.config.current().rules.all().to_vec())
}

async fn add_rule(
    State(state): State<AppState>,
    caller: Caller,
    request: Result<Json<ResponsibilityRule>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(ADMINS, "edit responsibility rules")?;
    let rule = body(request)?;
    let added = config::add_rule(
        &state.store,
        &state.cases.config,
        &admin_actor(&caller),
        rule,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(added)).into_response())
}

async fn delete_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(ADMINS, "edit responsibility rules")?;
    config::delete_rule(
        &state.store,
        &state.cases.config,
        &admin_actor(&caller),
        &id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
struct DayView {
    date: String,
    kind: &'static str,
    name: String,
}

async fn calendar_days(State(state): State<AppState>) -> Json<Vec<DayView>> {
    let config = state.cases.config.current();
    Json(
        config
            .calendar
            .overrides()
            .map(|d| DayView {
                date: d.date.to_string(),
                kind: match d.kind {
                    DayKind::Holiday => "holiday",
                    DayKind::Workday => "workday",
                },
                name: d.name.clone(),
            })
            .collect(),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DayBody {
    kind: String,
    name: String,
}

fn parse_date(text: &str) -> Result<jiff::civil::Date, ApiError> {
    text.parse().map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidParameter,
            format!("date: `{text}` is not a date like 2026-10-01 ({e})"),
        )
        .field("date")
    })
}

async fn set_day(
    State(state): State<AppState>,
    caller: Caller,
    Path(date): Path<String>,
    request: Result<Json<DayBody>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    caller.require(ADMINS, "edit the calendar")?;
    let date = parse_date(&date)?;
    let request = body(request)?;
    let kind = match request.kind.as_str() {
        "holiday" => DayKind::Holiday,
        "workday" => DayKind::Workday,
        other => {
            return Err(ApiError::new(
                ErrorCode::InvalidBody,
                format!("kind: `{other}` is not a day kind; use holiday or workday"),
            )
            .field("kind"));
        }
    };
    if request.name.trim().is_empty() || request.name.chars().count() > 100 {
        return Err(
            ApiError::new(ErrorCode::InvalidBody, "name: 1 to 100 characters").field("name"),
        );
    }
    config::set_calendar_day(
        &state.store,
        &state.cases.config,
        &admin_actor(&caller),
        date,
        Some((kind, request.name)),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn clear_day(
    State(state): State<AppState>,
    caller: Caller,
    Path(date): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(ADMINS, "edit the calendar")?;
    let date = parse_date(&date)?;
    config::set_calendar_day(
        &state.store,
        &state.cases.config,
        &admin_actor(&caller),
        date,
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn intake_settings(State(state): State<AppState>) -> Json<IntakeSettings> {
    Json(state.cases.config.current().intake)
}

async fn set_intake_settings(
    State(state): State<AppState>,
    caller: Caller,
    request: Result<Json<IntakeSettings>, JsonRejection>,
) -> Result<Json<IntakeSettings>, ApiError> {
    caller.require(ADMINS, "edit intake settings")?;
    let settings = body(request)?;
    config::set_intake_settings(
        &state.store,
        &state.cases.config,
        &admin_actor(&caller),
        settings,
    )
    .await?;
    Ok(Json(settings))
}
