//! The OpenAPI 3.1 document of the native HTTP API, served at `GET /api/v1/openapi.json`.
//!
//! Written by hand next to the handlers and wire types it describes; `tests/openapi.rs` keeps it
//! honest: every route the router serves is documented (and nothing else), every `$ref`
//! resolves, and live answers of the real router validate against the schemas given here.
//!
//! Response schemas list every field the server sends and mark nullable fields as
//! `type: [X, "null"]`; they do not forbid additional properties, so that adding a field is not a
//! breaking change for clients (the tests validate answers strictly all the same). Request bodies
//! forbid unknown fields exactly where the handler's type uses `deny_unknown_fields`.

use std::sync::OnceLock;

use axum::Json;
use serde_json::{Map, Value, json};

/// `GET /api/v1/openapi.json`: the document, built once.
pub(crate) async fn document() -> Json<Value> {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    Json(DOCUMENT.get_or_init(build).clone())
}

fn build() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Jingzhi",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "Urban governance: the city model (divisions, unit grids, zones) and the case closed loop.",
            "description": "The native HTTP API of Jingzhi.\n\n\
                Every error is answered as `{\"error\": {\"code\", \"message\", \"field\"?}}` with a \
                stable snake_case code; each code has one HTTP status (see the `Error` schema). \
                Times are UTC microseconds since the epoch in integer fields named `*_us`. \
                Coordinates are WGS-84 unless a `datum` says otherwise.\n\n\
                JSON request bodies must be sent with `Content-Type: application/json` (otherwise \
                415 `unsupported_media_type`) and may be at most 2 MiB (otherwise 413 \
                `payload_too_large`). A method a path does not serve is answered 405 \
                `method_not_allowed`.\n\n\
                Two answers come from the server's outer layers rather than a handler and have no \
                JSON body: `413` (text/plain) when a request's `Content-Length` exceeds 16 MiB, and \
                `503` with an empty body when a request takes longer than 30 seconds.\n\n\
                Callers authenticate with a bearer token (`bearerAuth`: a user's personal token \
                `jz_…`, or a system API key `jzk_…` with the `api` scope) or with the console's \
                session cookie (`sessionCookie`, from `POST /session`). A session caller sends the \
                session's CSRF token as `X-CSRF-Token` with every request other than GET, HEAD and \
                OPTIONS (otherwise 403 `forbidden`). What lies outside the caller's role and \
                territory is refused with 403, or answered 404 where even its existence is not \
                the caller's to know (cases, their reports and photos).\n\n\
                Every route is rate-limited per client address: 429 `rate_limited` with a \
                `Retry-After` header (seconds). API keys have their own per-minute budget on top.",
            "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" }
        },
        "servers": [{ "url": "/api/v1" }],
        "tags": [
            { "name": "service", "description": "Health and this document." },
            { "name": "city", "description": "The city model: divisions, unit grids, locate, map layers, zones and their goals." },
            { "name": "cases", "description": "The case closed loop: intake, lists and queues, commands, ratings, photos." },
            { "name": "rules", "description": "The rules the loop runs by: categories, departments, responsibility rules, calendar, intake settings." },
            { "name": "access", "description": "Console sessions, users and their passwords, API keys for systems, and the audit trail." },
            { "name": "evaluation", "description": "Scorecards against zone goals, rankings and trends, from incremental counters." }
        ],
        "paths": paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A user's personal API token (`jz_` followed by 64 hexadecimal digits; create one with `jingzhi users add` or `POST /users`), or a system API key with the `api` scope (`jzk_…`; `POST /keys`), sent as `Authorization: Bearer …`. A key acts as its user, within its own per-minute budget (429 `rate_limited` beyond it); a key without the `api` scope is refused with 403."
                },
                "sessionCookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "jz_session",
                    "description": "The console's session cookie, set by `POST /session` (HttpOnly, SameSite=Strict, Secure; 12 hours) and cleared by `DELETE /session`. Every request other than GET, HEAD and OPTIONS must also carry the session's `csrf_token` as the `X-CSRF-Token` header, or it is refused with 403 `forbidden`."
                }
            },
            "responses": error_responses(),
            "schemas": schemas()
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Small builders for schemas.

/// A reference to a component schema.
fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The schema, or JSON `null`.
fn nullable(mut schema: Value) -> Value {
    let Some(object) = schema.as_object_mut() else {
        return schema;
    };
    if object.contains_key("$ref") || object.contains_key("oneOf") || object.contains_key("anyOf") {
        return json!({ "oneOf": [schema, { "type": "null" }] });
    }
    if let Some(Value::String(kind)) = object.get("type").cloned() {
        object.insert("type".into(), json!([kind, "null"]));
    }
    if let Some(Value::Array(values)) = object.get_mut("enum") {
        values.push(Value::Null);
    }
    schema
}

fn string() -> Value {
    json!({ "type": "string" })
}

fn described(mut schema: Value, description: &str) -> Value {
    if let Some(object) = schema.as_object_mut() {
        object.insert("description".into(), json!(description));
    }
    schema
}

fn boolean() -> Value {
    json!({ "type": "boolean" })
}

fn number() -> Value {
    json!({ "type": "number" })
}

/// A signed 64-bit integer (versions, counts, sequence numbers).
fn int64() -> Value {
    json!({ "type": "integer", "format": "int64" })
}

/// An instant: UTC microseconds since the epoch.
fn micros() -> Value {
    json!({ "type": "integer", "format": "int64", "description": "UTC microseconds since the epoch." })
}

/// An unsigned 32-bit count.
fn count() -> Value {
    json!({ "type": "integer", "minimum": 0, "maximum": 4_294_967_295_u64 })
}

fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

/// `[lon, lat]`.
fn lon_lat() -> Value {
    json!({
        "type": "array",
        "items": { "type": "number" },
        "minItems": 2,
        "maxItems": 2,
        "description": "[longitude, latitude] in WGS-84."
    })
}

/// An object whose listed properties are all required.
fn object(properties: Value) -> Value {
    let required: Vec<Value> = properties
        .as_object()
        .map(|p| p.keys().map(|k| json!(k)).collect())
        .unwrap_or_default();
    json!({ "type": "object", "required": required, "properties": properties })
}

/// An object with only `required` of its properties required.
fn object_with(properties: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "required": required, "properties": properties })
}

/// An object that refuses unknown properties (the handler's type uses `deny_unknown_fields`).
fn closed(mut schema: Value) -> Value {
    if let Some(object) = schema.as_object_mut() {
        object.insert("additionalProperties".into(), json!(false));
    }
    schema
}

fn string_enum(values: &[&str], description: &str) -> Value {
    json!({ "type": "string", "enum": values, "description": description })
}

/// `start_handling` → `StartHandling`.
fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Component schemas.

const CASE_STATES: &[&str] = &[
    "reported",
    "registered",
    "rejected",
    "dispatched",
    "accepted",
    "handling",
    "handled",
    "verified",
    "closed",
    "rated",
    "suspended",
    "cancelled",
];
const CHANNELS: &[&str] = &[
    "inspector",
    "web",
    "open311",
    "hotline",
    "sensor",
    "external",
];
const QUEUES: &[&str] = &[
    "to_register",
    "to_dispatch",
    "to_handle",
    "to_verify",
    "to_close",
    "overdue",
    "postponements",
    "return_calls",
    "reviews",
];
const ROLES: &[&str] = &[
    "city_operator",
    "district_operator",
    "street_operator",
    "dispatcher",
    "handler",
    "inspector",
    "hotline_operator",
    "community_worker",
    "volunteer",
    "citizen",
    "auditor",
    "admin",
    "system",
];
/// Every error code, with the status it is answered with (`error.rs`).
const ERROR_CODES: &[(&str, u16)] = &[
    ("invalid_parameter", 400),
    ("invalid_body", 400),
    ("unauthenticated", 401),
    ("forbidden", 403),
    ("not_found", 404),
    ("method_not_allowed", 405),
    ("already_exists", 409),
    ("illegal_transition", 409),
    ("payload_too_large", 413),
    ("unsupported_media_type", 415),
    ("rate_limited", 429),
    ("outside_city", 422),
    ("no_boundaries", 409),
    ("stale_version", 409),
    ("constraint_violated", 409),
    ("store_unavailable", 503),
    ("internal", 500),
];
/// Datum spellings accepted on input (case-insensitive).
const DATUMS_IN: &[&str] = &["wgs84", "wgs-84", "gcj02", "gcj-02", "bd09", "bd-09"];

fn schemas() -> Value {
    let mut schemas = Map::new();
    let mut add = |name: &str, schema: Value| {
        schemas.insert(name.to_owned(), schema);
    };

    // Errors.
    let codes: Vec<&str> = ERROR_CODES.iter().map(|(code, _)| *code).collect();
    let table: Vec<String> = ERROR_CODES
        .iter()
        .map(|(code, status)| format!("`{code}` {status}"))
        .collect();
    add(
        "ErrorCode",
        string_enum(
            &codes,
            &format!(
                "A stable error code; each is answered with one HTTP status: {}.",
                table.join(", ")
            ),
        ),
    );
    add(
        "ErrorDetail",
        object_with(
            json!({
                "code": schema_ref("ErrorCode"),
                "message": described(string(), "What went wrong, for people."),
                "field": described(string(), "The offending field or parameter (`location.datum`, `points[3]`), when there is one; absent otherwise.")
            }),
            &["code", "message"],
        ),
    );
    add(
        "Error",
        described(
            object(json!({ "error": schema_ref("ErrorDetail") })),
            "The error envelope every failing request is answered with.",
        ),
    );

    // Shared codes and enums.
    add(
        "DivisionCode",
        json!({
            "type": "string",
            "pattern": "^[0-9]{12}$",
            "description": "A 12-digit administrative division code (e.g. 310101000000). On input the short forms of 6 or 9 digits are accepted too.",
            "examples": ["310101000000"]
        }),
    );
    add(
        "GridCode",
        json!({
            "type": "string",
            "pattern": "^[0-9]{15}$",
            "description": "A 15-digit unit grid code: the community's 12 digits and a sequence 001–999."
        }),
    );
    add(
        "DivisionLevel",
        string_enum(
            &["city", "district", "street", "community"],
            "A level of the city tree.",
        ),
    );
    add(
        "Datum",
        string_enum(
            &["wgs84", "gcj02", "bd09"],
            "A coordinate datum as answers name it.",
        ),
    );
    add(
        "DatumInput",
        string_enum(
            DATUMS_IN,
            "A coordinate datum as requests may spell it (case-insensitive); WGS-84 when absent.",
        ),
    );
    add(
        "CaseState",
        string_enum(CASE_STATES, "A state of the case closed loop."),
    );
    add(
        "Channel",
        string_enum(CHANNELS, "How a report reached the city."),
    );
    add(
        "Rating",
        string_enum(
            &["satisfied", "basically_satisfied", "dissatisfied"],
            "A reporter's judgement of a closed case.",
        ),
    );
    add(
        "Urgency",
        string_enum(&["normal", "urgent"], "How urgent a case is."),
    );
    add(
        "Stage",
        string_enum(
            &["register", "dispatch", "handle", "verify", "close"],
            "A timed stage of the closed loop.",
        ),
    );
    add(
        "EvaluationDomain",
        string_enum(
            &["objective", "satisfaction"],
            "How a case is judged in evaluation: objective work (on-time closure) or satisfaction-judged service.",
        ),
    );
    add(
        "CategoryKind",
        string_enum(
            &["matter", "hotline"],
            "A matter (事项) or a 12345 hotline request.",
        ),
    );
    add(
        "DepartmentKind",
        string_enum(
            &["bureau", "street_office", "property", "utility", "other"],
            "The kind of a department.",
        ),
    );
    add(
        "Role",
        string_enum(ROLES, "The role of a person or system."),
    );
    add(
        "TimeLimit",
        json!({
            "type": "string",
            "pattern": "^[1-9][0-9]* (natural_minutes|natural_hours|natural_days|working_hours|working_days)$",
            "description": "An amount of one unit, e.g. `4 working_hours` or `30 natural_minutes`.",
            "examples": ["4 working_hours"]
        }),
    );
    add(
        "GeoJsonGeometry",
        json!({
            "type": "object",
            "required": ["type", "coordinates"],
            "properties": {
                "type": { "type": "string", "enum": ["Polygon", "MultiPolygon"] },
                "coordinates": { "type": "array" }
            },
            "description": "A GeoJSON (Multi)Polygon in WGS-84."
        }),
    );

    // Service.
    add(
        "Health",
        object(json!({
            "status": { "type": "string", "const": "ok" },
            "version": string(),
            "store": object(json!({
                "backend": { "type": "string", "enum": ["sqlite", "postgres"] },
                "schema_version": int64(),
                "durability": {
                    "type": "object",
                    "additionalProperties": { "type": "string" },
                    "description": "The write connection's durability settings, read back from the database (e.g. `synchronous`, `journal_mode`)."
                }
            }))
        })),
    );

    // City model.
    add(
        "TreeNode",
        described(
            object_with(
                json!({
                    "code": schema_ref("DivisionCode"),
                    "name": string(),
                    "level": schema_ref("DivisionLevel"),
                    "generated": described(boolean(), "Whether the boundary was generated rather than imported."),
                    "children": described(array(schema_ref("TreeNode")), "Absent when the node has no children or the depth is reached.")
                }),
                &["code", "name", "level", "generated"],
            ),
            "A node of the division tree.",
        ),
    );
    add(
        "Division",
        object_with(
            json!({
                "code": schema_ref("DivisionCode"),
                "name": string(),
                "level": schema_ref("DivisionLevel"),
                "parent_code": nullable(schema_ref("DivisionCode")),
                "generated": boolean(),
                "area_m2": nullable(number()),
                "centroid": nullable(lon_lat()),
                "children": described(array(schema_ref("DivisionCode")), "The children's codes."),
                "grid_count": described(int64(), "Unit grids directly in this division (communities only)."),
                "geometry": described(schema_ref("GeoJsonGeometry"), "Only with `geometry=true`, and only when a boundary is stored.")
            }),
            &[
                "code",
                "name",
                "level",
                "parent_code",
                "generated",
                "area_m2",
                "centroid",
                "children",
                "grid_count",
            ],
        ),
    );
    add(
        "Grid",
        object(json!({
            "code": schema_ref("GridCode"),
            "community_code": schema_ref("DivisionCode"),
            "seq": int64(),
            "generated": boolean(),
            "area_m2": number(),
            "centroid": lon_lat(),
            "cell_size_m": number(),
            "neighbours": array(schema_ref("GridCode")),
            "geometry": schema_ref("GeoJsonGeometry")
        })),
    );
    add(
        "DivisionRef",
        object(json!({
            "code": schema_ref("DivisionCode"),
            "name": string(),
            "generated": boolean()
        })),
    );
    add(
        "ZoneRef",
        object(json!({ "id": string(), "name": string(), "zone_type": string() })),
    );
    add(
        "Located",
        described(
            object(json!({
                "lon": described(number(), "The longitude as given."),
                "lat": described(number(), "The latitude as given."),
                "datum": schema_ref("Datum"),
                "wgs84": lon_lat(),
                "grid": nullable(schema_ref("GridCode")),
                "community": nullable(schema_ref("DivisionRef")),
                "street": nullable(schema_ref("DivisionRef")),
                "district": nullable(schema_ref("DivisionRef")),
                "city": nullable(schema_ref("DivisionRef")),
                "zones": array(schema_ref("ZoneRef"))
            })),
            "Where a point lies. Outside every community but inside the city, the nearest community is named.",
        ),
    );
    add(
        "LocatePoint",
        object_with(
            json!({
                "lon": number(),
                "lat": number(),
                "datum": nullable(string())
            }),
            &["lon", "lat"],
        ),
    );
    add(
        "LocateBatch",
        object(json!({
            "points": {
                "type": "array",
                "items": schema_ref("LocatePoint"),
                "maxItems": 10_000
            }
        })),
    );
    add(
        "LocateAnswer",
        json!({
            "oneOf": [schema_ref("Located"), schema_ref("Error")],
            "description": "One point's answer: where it lies, or why it could not be located (`field` is `points[i]` or `points[i].datum`)."
        }),
    );
    let feature = |properties: Value| {
        object(json!({
            "type": { "type": "string", "const": "Feature" },
            "id": string(),
            "properties": properties,
            "geometry": nullable(schema_ref("GeoJsonGeometry"))
        }))
    };
    add(
        "DivisionFeature",
        feature(object(json!({
            "code": schema_ref("DivisionCode"),
            "name": string(),
            "level": schema_ref("DivisionLevel"),
            "parent_code": nullable(schema_ref("DivisionCode")),
            "generated": boolean(),
            "area_m2": nullable(number())
        }))),
    );
    add(
        "GridFeature",
        feature(object(json!({
            "code": schema_ref("GridCode"),
            "community_code": schema_ref("DivisionCode"),
            "level": { "type": "string", "const": "grid" },
            "generated": boolean(),
            "area_m2": number()
        }))),
    );
    let collection = |feature: &str| {
        object(json!({
            "type": { "type": "string", "const": "FeatureCollection" },
            "features": array(schema_ref(feature))
        }))
    };
    add("DivisionLayer", collection("DivisionFeature"));
    add("GridLayer", collection("GridFeature"));
    add(
        "Indicator",
        object(json!({
            "code": string(),
            "name_zh": string(),
            "name_en": string(),
            "unit": string(),
            "min": number(),
            "max": number(),
            "better": { "type": "string", "enum": ["higher", "lower"] }
        })),
    );
    add(
        "GoalTarget",
        object(json!({
            "indicator": described(string(), "An indicator code."),
            "weight": number(),
            "target": number()
        })),
    );
    add(
        "ZoneType",
        object(json!({
            "code": string(),
            "name_zh": string(),
            "name_en": string(),
            "built_in": boolean(),
            "goals": array(schema_ref("GoalTarget")),
            "version": int64()
        })),
    );
    add(
        "Zone",
        object_with(
            json!({
                "id": string(),
                "name": string(),
                "zone_type": string(),
                "geometry": described(schema_ref("GeoJsonGeometry"), "A polygon zone's boundary; absent for a grid-set zone."),
                "grid_codes": described(array(schema_ref("GridCode")), "A grid-set zone's unit grids; absent for a polygon zone."),
                "goals_override": nullable(described(array(schema_ref("GoalTarget")), "The zone's own goals, when it overrides its type's.")),
                "effective_goals": described(array(schema_ref("GoalTarget")), "The goals evaluation reads: the override, else the type's."),
                "version": int64()
            }),
            &[
                "id",
                "name",
                "zone_type",
                "goals_override",
                "effective_goals",
                "version",
            ],
        ),
    );
    add(
        "GoalHistoryEntry",
        object(json!({
            "seq": described(int64(), "The audit entry's number."),
            "at_us": micros(),
            "actor": string(),
            "action": string(),
            "before": { "description": "The goals before the change (any JSON value), or null." },
            "after": { "description": "The goals after the change (any JSON value), or null." }
        })),
    );

    // Evaluation.
    add(
        "EvaluationCounts",
        described(
            object(json!({
                "reported": int64(),
                "by_inspector": int64(),
                "by_public": int64(),
                "inspector_valid": int64(),
                "registered": int64(),
                "registered_on_time": int64(),
                "rejected": int64(),
                "cancelled": int64(),
                "dispatched": int64(),
                "dispatched_on_time": int64(),
                "returned": int64(),
                "registered_public": int64(),
                "public_registered_on_time": int64(),
                "urgent": int64(),
                "due": int64(),
                "handled": int64(),
                "handled_on_time": int64(),
                "closed": int64(),
                "closed_on_time": int64(),
                "reworked": int64(),
                "overdue": int64(),
                "escalated": int64(),
                "checked": int64(),
                "checked_on_time": int64(),
                "suspended": int64(),
                "open": int64(),
                "overdue_open": int64(),
                "responded": int64(),
                "resolved": int64(),
                "rated_satisfied": int64(),
                "rated_basically_satisfied": int64(),
                "rated_dissatisfied": int64()
            })),
            "The evaluation counters of the scope and period (see docs/evaluation.md for each one's meaning and the day it is counted on).",
        ),
    );
    add(
        "IndicatorReading",
        object(json!({
            "code": string(),
            "name_zh": string(),
            "name_en": string(),
            "unit": string(),
            "better": string_enum(&["higher", "lower"], "Which way is better."),
            "value": described(nullable(number()), "Null when the indicator's denominator is zero (no data)."),
            "target": described(nullable(number()), "The goal, when the scope's goal cluster names this indicator."),
            "weight": nullable(number()),
            "attainment": described(nullable(number()), "How far the value reaches the target, 0..1."),
            "gap": described(nullable(number()), "Target minus value (higher-is-better) or value minus target (lower-is-better); positive means short of the goal.")
        })),
    );
    add(
        "Limit",
        object(json!({ "indicator": string(), "value": nullable(number()) })),
    );
    add(
        "Scorecard",
        described(
            object(json!({
                "scope": string(),
                "name": string(),
                "department": nullable(string()),
                "from": described(string(), "First day (Asia/Shanghai), YYYY-MM-DD."),
                "to": described(string(), "Last day, included."),
                "grids": int64(),
                "area_km2": nullable(number()),
                "counts": schema_ref("EvaluationCounts"),
                "indicators": array(schema_ref("IndicatorReading")),
                "score": described(nullable(number()), "0..100: the zone's weighted goal attainment, or the standard's composite area/department score."),
                "score_kind": string_enum(&["goal_attainment", "area_composite", "department_composite"], "What `score` is."),
                "goal_coverage": described(nullable(number()), "The share of the goal cluster's weight whose indicators have data (a goal score needs at least half)."),
                "grade": json!({ "type": ["string", "null"], "enum": ["A", "B", "C", "D", "E", null] }),
                "goal_source": string_enum(&["zone", "zone_type", "none"], "Where the goals come from."),
                "limits": object(json!({
                    "objective": schema_ref("Limit"),
                    "satisfaction": schema_ref("Limit")
                }))
            })),
            "A scope's evaluation over a period, read against its goal cluster.",
        ),
    );
    add(
        "RankedItem",
        object(json!({
            "scope": string(),
            "name": string(),
            "rank": int64(),
            "value": nullable(number()),
            "score": nullable(number()),
            "grade": json!({ "type": ["string", "null"], "enum": ["A", "B", "C", "D", "E", null] }),
            "open": int64(),
            "overdue": int64(),
            "reported": int64()
        })),
    );
    add(
        "Ranking",
        object(json!({
            "level": string(),
            "within": string(),
            "by": string(),
            "from": string(),
            "to": string(),
            "items": array(schema_ref("RankedItem"))
        })),
    );
    add(
        "TrendPoint",
        object(json!({
            "start": string(),
            "days": int64(),
            "value": nullable(number()),
            "reported": int64()
        })),
    );
    add(
        "Trend",
        object(json!({
            "scope": string(),
            "indicator": string(),
            "bucket": string(),
            "from": string(),
            "to": string(),
            "points": array(schema_ref("TrendPoint"))
        })),
    );

    // Cases.
    add(
        "Place",
        described(
            object(json!({
                "lon": number(),
                "lat": number(),
                "grid": described(string(), "The unit grid's 15-digit code, or the community's 12-digit code when the point lies in no grid."),
                "community": schema_ref("DivisionCode"),
                "street": schema_ref("DivisionCode"),
                "district": schema_ref("DivisionCode"),
                "zones": described(array(string()), "The ids of the zones containing the point at intake.")
            })),
            "Where a case is: the point (WGS-84), its unit grid and the divisions above it.",
        ),
    );
    add(
        "StageClock",
        described(
            object(json!({
                "stage": schema_ref("Stage"),
                "started_at_us": micros(),
                "limit": schema_ref("TimeLimit"),
                "extra": described(count(), "Approved postponements, in the limit's unit."),
                "warn_at_us": micros(),
                "deadline_at_us": micros(),
                "warned": boolean(),
                "overdue": boolean(),
                "escalated": described(boolean(), "Whether this stage has escalated: once per stage, even when a postponement lets it run late again.")
            })),
            "The running clock of the current stage.",
        ),
    );
    add(
        "PostponementRequest",
        object(json!({
            "by": string(),
            "extra": count(),
            "reason": string(),
            "at_us": micros()
        })),
    );
    add(
        "Suspension",
        object(json!({
            "from": schema_ref("CaseState"),
            "reason": string(),
            "at_us": micros()
        })),
    );
    add(
        "Whistle",
        described(
            object(json!({
                "lead": string(),
                "calls": array(object(json!({
                    "department": string(),
                    "reported_at_us": nullable(micros())
                }))),
                "by": string(),
                "at_us": micros()
            })),
            "The street's whistle (吹哨报到): departments summoned to one case, with a lead.",
        ),
    );
    let mut case_properties = json!({
        "id": string(),
        "state": schema_ref("CaseState"),
        "version": described(int64(), "Incremented by every command; commands name the version they were decided on."),
        "channel": schema_ref("Channel"),
        "category": nullable(string()),
        "urgency": schema_ref("Urgency"),
        "domain": schema_ref("EvaluationDomain"),
        "description": string(),
        "place": schema_ref("Place"),
        "department": nullable(string()),
        "queue_reason": nullable(described(string(), "Why the case waits in the dispatcher's queue.")),
        "candidates": described(array(string()), "Candidate departments while the case waits in the dispatcher's queue."),
        "level": described(schema_ref("DivisionLevel"), "The level now supervising the case: street, then district, then city on escalation."),
        "escalations": count(),
        "clock": nullable(schema_ref("StageClock")),
        "handle_deadline_at_us": nullable(micros()),
        "reworks": count(),
        "returns": count(),
        "reopens": count(),
        "postponements": count(),
        "pending_postponement": nullable(schema_ref("PostponementRequest")),
        "suspension": nullable(schema_ref("Suspension")),
        "whistle": nullable(schema_ref("Whistle")),
        "reporters": count(),
        "rating_round": described(count(), "Which closing round ratings are asked for (1 after the first close)."),
        "ratings_this_round": count(),
        "review_requested": boolean(),
        "reported_at_us": micros(),
        "registered_at_us": nullable(micros()),
        "dispatched_at_us": nullable(micros()),
        "handled_at_us": nullable(micros()),
        "verified_at_us": nullable(micros()),
        "closed_at_us": nullable(micros()),
        "handled_on_time": nullable(boolean()),
        "closed_on_time": nullable(boolean())
    });
    if let Some(properties) = case_properties.as_object_mut() {
        properties.insert(
            "accepted_at_us".into(),
            described(
                nullable(micros()),
                "When the department first acknowledged the case.",
            ),
        );
        properties.insert(
            "stages_on_time".into(),
            described(
                object(json!({
                    "register": nullable(boolean()),
                    "dispatch": nullable(boolean()),
                    "verify": nullable(boolean())
                })),
                "Whether registration, dispatch and the on-site check first ended within their limits (null until they end).",
            ),
        );
        properties.insert(
            "ever_overdue".into(),
            described(boolean(), "Whether any stage ever ran past its deadline."),
        );
        properties.insert(
            "ratings".into(),
            described(
                object(json!({
                    "satisfied": count(),
                    "basically_satisfied": count(),
                    "dissatisfied": count()
                })),
                "Every rating given, over all closing rounds.",
            ),
        );
    }
    add(
        "Case",
        described(
            object(case_properties.clone()),
            "A case: one problem at one place, possibly reported by several people.",
        ),
    );
    let mut view_properties = case_properties;
    if let Some(properties) = view_properties.as_object_mut() {
        properties.insert(
            "light".into(),
            json!({
                "type": ["string", "null"],
                "enum": ["green", "yellow", "red", null],
                "description": "The deadline light: green (< 80 % of the stage's limit used), yellow (80–100 %), red (overdue); null when no clock runs."
            }),
        );
    }
    add(
        "CaseView",
        described(
            object(view_properties),
            "A case as the API shows it: every field of `Case` plus its deadline `light`.",
        ),
    );
    add(
        "Candidate",
        object(json!({
            "code": described(string(), "A category code."),
            "name": nullable(described(string(), "The category's name; null when the catalogue has no such category.")),
            "confidence": json!({ "type": "number", "minimum": 0, "maximum": 1 })
        })),
    );
    add(
        "Location",
        closed(object_with(
            json!({
                "lon": number(),
                "lat": number(),
                "datum": nullable(schema_ref("DatumInput"))
            }),
            &["lon", "lat"],
        )),
    );
    add(
        "Reporter",
        described(
            object_with(
                json!({
                    "name": nullable(json!({ "type": "string", "maxLength": 200 })),
                    "phone": nullable(json!({ "type": "string", "maxLength": 200 })),
                    "email": nullable(json!({ "type": "string", "maxLength": 200 })),
                    "account": nullable(json!({ "type": "string", "maxLength": 200, "description": "An account id in the reporting system." })),
                    "device": nullable(json!({ "type": "string", "maxLength": 200 }))
                }),
                &[],
            ),
            "Who reported, as far as they told. Never shown on public endpoints.",
        ),
    );
    add(
        "ReportBody",
        closed(object_with(
            json!({
                "channel": nullable(described(schema_ref("Channel"), "Defaults to the caller's first allowed channel: inspector for inspectors, hotline for hotline operators, web for citizens, community workers and volunteers; operators may use any.")),
                "description": json!({ "type": "string", "minLength": 1, "maxLength": 4000 }),
                "location": schema_ref("Location"),
                "address": nullable(json!({ "type": "string", "maxLength": 200 })),
                "category": nullable(described(string(), "An active category's code; when absent the description is classified.")),
                "urgency": nullable(schema_ref("Urgency")),
                "reporter": schema_ref("Reporter"),
                "intake_key": nullable(json!({
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 128,
                    "description": "Retries with the same key yield the same case (answered 200, outcome `replayed`). The `Idempotency-Key` header is used when absent."
                })),
                "photos": json!({
                    "type": "array",
                    "items": string(),
                    "maxItems": 9,
                    "description": "Ids of photos uploaded beforehand (POST /photos)."
                })
            }),
            &["description", "location"],
        )),
    );
    add(
        "IntakeAnswer",
        object(json!({
            "outcome": string_enum(
                &["created", "linked", "replayed"],
                "created: a new case; linked: merged into an open case of the same problem nearby; replayed: the intake key was seen before.",
            ),
            "report_id": string(),
            "case": schema_ref("CaseView"),
            "candidates": described(array(schema_ref("Candidate")), "Classification candidates, best first (empty when the category was given)."),
            "needs_confirmation": described(boolean(), "True when the category is not certain and an operator must confirm it.")
        })),
    );
    add(
        "EventView",
        described(
            object(json!({
                "id": string(),
                "kind": described(string(), "A past-tense verb: `reported`, `registered`, `dispatched`, `warned`, `escalated`…"),
                "at_us": micros(),
                "actor": string(),
                "role": schema_ref("Role"),
                "from": nullable(schema_ref("CaseState")),
                "to": schema_ref("CaseState"),
                "note": nullable(string()),
                "lon": nullable(number()),
                "lat": nullable(number()),
                "photos": array(string()),
                "detail": { "description": "The event's details (any JSON value)." }
            })),
            "One entry of a case's timeline.",
        ),
    );
    add(
        "ReportView",
        described(
            object(json!({
                "id": string(),
                "channel": schema_ref("Channel"),
                "description": string(),
                "lon": described(number(), "WGS-84."),
                "lat": described(number(), "WGS-84."),
                "datum": described(schema_ref("Datum"), "The datum the report was given in."),
                "input_lon": described(number(), "The longitude as given."),
                "input_lat": described(number(), "The latitude as given."),
                "address": nullable(string()),
                "reported_at_us": micros(),
                "classification": nullable(described(
                    array(object(json!({ "code": string(), "confidence": number() }))),
                    "The classifier's candidates at intake, when it was asked.",
                )),
                "rating": nullable(schema_ref("Rating")),
                "rating_comment": nullable(string()),
                "rating_round": nullable(int64())
            })),
            "One report of a case, without personal data.",
        ),
    );
    add(
        "CaseDetail",
        object(json!({
            "case": schema_ref("CaseView"),
            "timeline": described(array(schema_ref("EventView")), "Oldest first."),
            "reports": array(schema_ref("ReportView"))
        })),
    );
    add(
        "ReporterView",
        described(
            object(json!({
                "report_id": string(),
                "name": nullable(string()),
                "phone": nullable(string()),
                "email": nullable(string()),
                "account": nullable(string()),
                "device": nullable(string()),
                "submitted_by": described(string(), "The actor who submitted the report, e.g. `user:…`.")
            })),
            "A reporter's personal data; every read is written to the audit trail.",
        ),
    );

    // Commands: one schema per variant, discriminated by `command`.
    let variants: &[(&str, &str, Value, &[&str])] = &[
        (
            "register",
            "Confirm and register a reported case (operators).",
            json!({ "category": string(), "urgency": nullable(schema_ref("Urgency")) }),
            &["category"],
        ),
        (
            "reject",
            "Reject a report that is not a case.",
            json!({ "reason": string() }),
            &["reason"],
        ),
        (
            "dispatch",
            "Dispatch a registered case to a department (dispatchers).",
            json!({ "department": string() }),
            &["department"],
        ),
        ("accept", "The department accepts the case.", json!({}), &[]),
        (
            "return",
            "The department returns the case to the dispatcher (回退).",
            json!({ "reason": string() }),
            &["reason"],
        ),
        (
            "start_handling",
            "The department starts handling.",
            json!({}),
            &[],
        ),
        (
            "report_handled",
            "The department reports the case handled.",
            json!({}),
            &[],
        ),
        (
            "verify",
            "The on-site check: passed, or rework (返工).",
            json!({ "passed": boolean() }),
            &["passed"],
        ),
        ("close", "Close a verified case.", json!({}), &[]),
        (
            "request_postponement",
            "Ask for more time, in the stage limit's unit (延期).",
            json!({ "extra": count(), "reason": string() }),
            &["extra", "reason"],
        ),
        (
            "decide_postponement",
            "Approve or refuse the pending postponement.",
            json!({ "approve": boolean() }),
            &["approve"],
        ),
        (
            "suspend",
            "Suspend the case (挂账).",
            json!({ "reason": string() }),
            &["reason"],
        ),
        ("resume", "Resume a suspended case.", json!({}), &[]),
        (
            "cancel",
            "Cancel the case (作废).",
            json!({ "reason": string() }),
            &["reason"],
        ),
        (
            "reopen",
            "Reopen a closed or rated case.",
            json!({ "reason": string() }),
            &["reason"],
        ),
        (
            "whistle",
            "The street's whistle: summon departments under a lead (吹哨报到).",
            json!({ "lead": string(), "departments": array(string()) }),
            &["lead", "departments"],
        ),
        (
            "report_for_duty",
            "A summoned department reports for duty (报到).",
            json!({}),
            &[],
        ),
    ];
    let mut one_of = Vec::new();
    let mut mapping = Map::new();
    for (command, summary, fields, required) in variants {
        let name = format!("Command{}", camel(command));
        let mut properties = Map::new();
        properties.insert(
            "command".into(),
            json!({ "type": "string", "const": command }),
        );
        if let Some(fields) = fields.as_object() {
            properties.extend(fields.clone());
        }
        let mut required_fields = vec!["command"];
        required_fields.extend_from_slice(required);
        add(
            &name,
            json!({
                "type": "object",
                "description": summary,
                "required": required_fields,
                "properties": properties
            }),
        );
        one_of.push(schema_ref(&name));
        mapping.insert(
            (*command).into(),
            json!(format!("#/components/schemas/{name}")),
        );
    }
    add(
        "Command",
        json!({
            "description": "What a command may be, by its `command` name. (`rate` exists in the domain but is refused here with 400: ratings go through POST /reports/{id}/rating.)",
            "oneOf": one_of,
            "discriminator": { "propertyName": "command", "mapping": mapping }
        }),
    );
    add(
        "CommandBody",
        json!({
            "description": "A command with the case version it was decided on, an optional note, photos and the actor's position.",
            "allOf": [
                schema_ref("Command"),
                object_with(
                    json!({
                        "version": described(int64(), "The case version the command was decided on; a different current version is answered 409 `stale_version`."),
                        "note": nullable(json!({ "type": "string", "maxLength": 2000 })),
                        "photos": json!({ "type": "array", "items": string(), "maxItems": 9, "description": "Ids of photos uploaded beforehand." }),
                        "position": nullable(described(schema_ref("Location"), "The actor's own position, e.g. an inspector checking on site."))
                    }),
                    &["version"],
                )
            ]
        }),
    );
    add(
        "RatingBody",
        closed(object_with(
            json!({
                "rating": schema_ref("Rating"),
                "comment": nullable(json!({ "type": "string", "maxLength": 2000 }))
            }),
            &["rating"],
        )),
    );
    add(
        "ClassifyBody",
        closed(object(json!({
            "text": json!({ "type": "string", "maxLength": 4000 })
        }))),
    );
    add(
        "ClassifyAnswer",
        object(json!({
            "candidates": described(array(schema_ref("Candidate")), "At most 5, best first."),
            "threshold": described(number(), "The confidence below which an operator confirms the category."),
            "needs_confirmation": boolean()
        })),
    );
    add(
        "PhotoCreated",
        object(json!({
            "id": string(),
            "url": described(string(), "Where to read the photo: `/api/v1/photos/{id}`.")
        })),
    );

    // Rules.
    let urgency_limits = object(json!({
        "normal": schema_ref("TimeLimit"),
        "urgent": schema_ref("TimeLimit")
    }));
    add(
        "StageLimits",
        described(
            object(json!({
                "register": urgency_limits.clone(),
                "dispatch": urgency_limits.clone(),
                "handle": urgency_limits.clone(),
                "verify": urgency_limits.clone(),
                "close": urgency_limits
            })),
            "Time limits of every stage, per urgency.",
        ),
    );
    add(
        "Category",
        described(
            object(json!({
                "code": json!({
                    "type": "string",
                    "pattern": "^([0-9]{5}|R[0-9]{4})$",
                    "description": "5-digit matter code (`06010`) or hotline extension code (`R3001`)."
                }),
                "kind": schema_ref("CategoryKind"),
                "major_code": described(string(), "The leading part of the code."),
                "major_name": string(),
                "name": json!({ "type": "string", "minLength": 1, "maxLength": 100 }),
                "urgency": schema_ref("Urgency"),
                "domain": schema_ref("EvaluationDomain"),
                "limits": schema_ref("StageLimits"),
                "active": boolean()
            })),
            "A case category with its default urgency, time limits and evaluation domain.",
        ),
    );
    add(
        "Department",
        object(json!({
            "id": json!({ "type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$", "description": "Short stable identifier, e.g. `sh-huangpu-greening`." }),
            "name": json!({ "type": "string", "minLength": 1 }),
            "kind": schema_ref("DepartmentKind"),
            "level": described(schema_ref("DivisionLevel"), "The level it works at."),
            "division": described(schema_ref("DivisionCode"), "The division it belongs to (its territory)."),
            "active": boolean()
        })),
    );
    add(
        "CategoryScope",
        json!({
            "type": "string",
            "pattern": "^(\\*|[0-9]{2}|R[0-9]|[0-9]{5}|R[0-9]{4})$",
            "description": "Which categories a rule covers: `*` (all), a major class (`06`, `R3`) or one code (`06010`, `R3001`)."
        }),
    );
    add(
        "Territory",
        json!({
            "description": "Where a rule applies: a division subtree or a zone.",
            "oneOf": [
                object(json!({ "kind": { "type": "string", "const": "division" }, "id": schema_ref("DivisionCode") })),
                object(json!({ "kind": { "type": "string", "const": "zone" }, "id": described(string(), "A zone id.") }))
            ]
        }),
    );
    add(
        "ResponsibilityRule",
        described(
            object(json!({
                "id": string(),
                "category": schema_ref("CategoryScope"),
                "territory": schema_ref("Territory"),
                "level": described(schema_ref("DivisionLevel"), "The level the rule routes at (street, district or city)."),
                "department": described(string(), "An existing department's id."),
                "priority": json!({ "type": "integer", "format": "int32", "description": "Higher wins among rules matching at the same level." }),
                "fallback": described(boolean(), "Consulted only when no ordinary rule matches.")
            })),
            "Category × territory × level → department.",
        ),
    );
    add(
        "CalendarDay",
        object(json!({
            "date": json!({ "type": "string", "format": "date" }),
            "kind": string_enum(&["holiday", "workday"], "A public holiday, or a make-up working day."),
            "name": string()
        })),
    );
    add(
        "CalendarDayBody",
        closed(object(json!({
            "kind": string_enum(&["holiday", "workday"], "A public holiday, or a make-up working day."),
            "name": json!({ "type": "string", "minLength": 1, "maxLength": 100 })
        }))),
    );
    add(
        "IntakeSettings",
        object(json!({
            "dedupe_distance_m": json!({ "type": "number", "minimum": 0, "maximum": 5000, "description": "Reports of the same category within this distance of an open case are merged into it…" }),
            "dedupe_window_minutes": json!({ "type": "integer", "format": "int64", "minimum": 0, "maximum": 43200, "description": "…and within this many minutes of the case's latest report." }),
            "confirm_threshold": json!({ "type": "number", "minimum": 0, "maximum": 1, "description": "Below this classification confidence an operator confirms the category." })
        })),
    );

    // Access.
    let password = json!({ "type": "string", "minLength": 10, "maxLength": 200, "description": "At least 10 characters; stored only as an Argon2id hash." });
    let login = json!({ "type": "string", "minLength": 1, "maxLength": 64, "description": "1 to 64 letters, digits, `.`, `-`, `_` or `@`; unique." });
    add(
        "User",
        described(
            object(json!({
                "id": string(),
                "name": string(),
                "role": schema_ref("Role"),
                "territory": described(nullable(schema_ref("DivisionCode")), "The division subtree the user works in; null for the whole city."),
                "department": described(nullable(string()), "For handlers: the department they act for; null otherwise."),
                "active": described(boolean(), "False once revoked: the user's token, keys and sessions stop working.")
            })),
            "A person or system acting in Jingzhi (never with a token or password).",
        ),
    );
    let user_roles: Vec<&str> = ROLES
        .iter()
        .copied()
        .filter(|role| *role != "system")
        .collect();
    add(
        "UserBody",
        closed(object_with(
            json!({
                "name": json!({ "type": "string", "minLength": 1, "maxLength": 100 }),
                "role": string_enum(&user_roles, "The user's role (`system` is Jingzhi itself, not a user)."),
                "territory": nullable(json!({
                    "type": "string",
                    "pattern": "^([0-9]{6}([0-9]{3}){0,2})?$",
                    "description": "A division code of 6, 9 or 12 digits; absent, null or empty for the whole city."
                })),
                "department": nullable(described(string(), "An existing department's id: required for handlers, refused for every other role.")),
                "login": nullable(described(login.clone(), "A console login name; give it together with `password`, or neither.")),
                "password": nullable(password.clone())
            }),
            &["name", "role"],
        )),
    );
    add(
        "NewUser",
        object(json!({
            "user": schema_ref("User"),
            "token": described(string(), "The user's personal API token (`jz_…`), shown only in this answer.")
        })),
    );
    add(
        "PasswordBody",
        closed(object(json!({
            "login": login,
            "password": password
        }))),
    );
    add(
        "LoginBody",
        closed(object(json!({
            "login": string(),
            "password": string()
        }))),
    );
    add(
        "SessionView",
        described(
            object(json!({
                "user": schema_ref("User"),
                "csrf_token": described(nullable(string()), "For a console session: send it back as `X-CSRF-Token` with every request that changes something. Null for bearer callers."),
                "expires_at_us": described(nullable(micros()), "For a console session: when it ends. Null for bearer callers.")
            })),
            "Who the caller is.",
        ),
    );
    add(
        "Scope",
        string_enum(
            &["api", "open311"],
            "What an API key may be used for: `api`, the native API as the key's user; `open311`, Open311 writes.",
        ),
    );
    add(
        "KeyBody",
        closed(object_with(
            json!({
                "user_id": described(string(), "The user the key acts as: their role and territory apply."),
                "name": json!({ "type": "string", "minLength": 1, "maxLength": 100 }),
                "scopes": json!({ "type": "array", "items": schema_ref("Scope"), "minItems": 1 }),
                "rate_per_minute": nullable(json!({ "type": "integer", "minimum": 1, "maximum": 100_000, "default": 600, "description": "Requests a minute (bursts up to the same number)." }))
            }),
            &["user_id", "name", "scopes"],
        )),
    );
    add(
        "ApiKey",
        described(
            object(json!({
                "id": string(),
                "name": string(),
                "user_id": string(),
                "scopes": array(schema_ref("Scope")),
                "rate_per_minute": count(),
                "active": described(boolean(), "False once revoked.")
            })),
            "An API key of a system (never with its secret).",
        ),
    );
    add(
        "NewKey",
        object(json!({
            "key": schema_ref("ApiKey"),
            "secret": described(string(), "The key's secret (`jzk_…`), shown only in this answer; send it as a bearer token.")
        })),
    );
    add(
        "AuditEntry",
        described(
            object(json!({
                "seq": described(int64(), "The entry's number in the hash chain: 1, 2, 3… without gaps."),
                "at_us": micros(),
                "actor": described(string(), "Who acted, e.g. `user:…` or `system:deadlines`."),
                "actor_role": string(),
                "action": described(string(), "What was done, e.g. `case.dispatched`, `user.create`, `case.reporters_read`."),
                "subject_kind": string(),
                "subject_id": string(),
                "origin": described(string(), "Where the request came from, e.g. `http:203.0.113.5`."),
                "before": { "description": "The subject before the change (any JSON value), or null." },
                "after": { "description": "The subject after the change (any JSON value), or null." },
                "hash": described(string(), "The entry's hash, covering its fields and the previous entry's hash.")
            })),
            "One entry of the append-only, hash-chained audit trail.",
        ),
    );

    Value::Object(schemas)
}

// ---------------------------------------------------------------------------------------------
// Error responses, one per status.

fn error_responses() -> Value {
    let mut responses = Map::new();
    let statuses: &[(u16, &str, &str)] = &[
        (
            400,
            "InvalidRequest",
            "The request is invalid: a parameter (`invalid_parameter`) or the body (`invalid_body`); `field` names the offending one.",
        ),
        (
            401,
            "Unauthenticated",
            "No credentials, or an unknown or revoked token or key, or an expired or closed session (`unauthenticated`).",
        ),
        (
            403,
            "Forbidden",
            "The caller's role or territory does not allow this, an API key lacks the `api` scope, or a session caller's change lacks its `X-CSRF-Token` (`forbidden`).",
        ),
        (
            404,
            "NotFound",
            "No such resource, or not one the caller may see (`not_found`).",
        ),
        (
            409,
            "Conflict",
            "The request conflicts with the current state: `already_exists`, `illegal_transition`, `stale_version` (reload and decide again), `constraint_violated` or `no_boundaries`.",
        ),
        (
            413,
            "PayloadTooLarge",
            "The body is larger than the limit (`payload_too_large`).",
        ),
        (
            415,
            "UnsupportedMediaType",
            "The body's content type is not accepted (`unsupported_media_type`).",
        ),
        (
            422,
            "OutsideCity",
            "The point lies outside the city (`outside_city`); the message names the nearest division.",
        ),
        (
            429,
            "RateLimited",
            "Too many requests from this address or with this API key, or too many failed logins for this login name (`rate_limited`); `Retry-After` says how many seconds to wait when the address's budget is spent.",
        ),
        (
            500,
            "Internal",
            "An internal error (`internal`); the cause is logged, never sent.",
        ),
        (
            503,
            "StoreUnavailable",
            "The store is unavailable (`store_unavailable`); try again later.",
        ),
    ];
    for (status, name, description) in statuses {
        let codes: Vec<&str> = ERROR_CODES
            .iter()
            .filter(|(_, s)| s == status)
            .map(|(code, _)| *code)
            .collect();
        responses.insert(
            (*name).into(),
            json!({
                "description": description,
                "content": {
                    "application/json": {
                        "schema": {
                            "allOf": [
                                schema_ref("Error"),
                                {
                                    "properties": {
                                        "error": { "properties": { "code": { "enum": codes } } }
                                    }
                                }
                            ]
                        }
                    }
                }
            }),
        );
    }
    if let Some(Value::Object(limited)) = responses.get_mut("RateLimited") {
        limited.insert(
            "headers".into(),
            json!({
                "Retry-After": {
                    "description": "Seconds to wait; sent when the address's budget is spent.",
                    "schema": { "type": "integer", "minimum": 1 }
                }
            }),
        );
    }
    // The city handlers' query strings: a parameter that does not parse, or one given twice.
    responses.insert(
        "InvalidQuery".into(),
        json!({
            "description": "A parameter is invalid or given twice (`invalid_parameter`; `field` names it when it is one parameter).",
            "content": {
                "application/json": {
                    "schema": {
                        "allOf": [
                            schema_ref("Error"),
                            { "properties": { "error": { "properties": { "code": { "enum": ["invalid_parameter", "invalid_body"] } } } } }
                        ]
                    }
                }
            }
        }),
    );
    Value::Object(responses)
}

// ---------------------------------------------------------------------------------------------
// Operations.

/// One documented operation, built up and then placed under its path.
struct Operation {
    method: &'static str,
    path: &'static str,
    body: Map<String, Value>,
    responses: Map<String, Value>,
    parameters: Vec<Value>,
}

fn operation(
    method: &'static str,
    path: &'static str,
    tag: &str,
    id: &str,
    summary: &str,
) -> Operation {
    let mut body = Map::new();
    body.insert("operationId".into(), json!(id));
    body.insert("summary".into(), json!(summary));
    body.insert("tags".into(), json!([tag]));
    Operation {
        method,
        path,
        body,
        responses: Map::new(),
        parameters: Vec::new(),
    }
}

impl Operation {
    fn description(mut self, text: &str) -> Operation {
        self.body.insert("description".into(), json!(text));
        self
    }

    /// The operation takes a `Caller`: a bearer token or a session cookie, which may be missing
    /// or unknown (401) or not allowed (403: role, territory, an API key's scope, or a session's
    /// change without its CSRF token, which every method but GET needs).
    fn authenticated(mut self) -> Operation {
        self.body.insert(
            "security".into(),
            json!([{ "bearerAuth": [] }, { "sessionCookie": [] }]),
        );
        if self.method != "get" {
            self.parameters.push(json!({
                "name": "X-CSRF-Token",
                "in": "header",
                "required": false,
                "description": "The session's `csrf_token`: required when the caller authenticates with the session cookie, ignored with a bearer token.",
                "schema": string()
            }));
        }
        self.errors(&[401, 403])
    }

    fn path_param(mut self, name: &str, schema: Value, description: &str) -> Operation {
        self.parameters.push(json!({
            "name": name,
            "in": "path",
            "required": true,
            "description": description,
            "schema": schema
        }));
        self
    }

    fn query(mut self, name: &str, required: bool, schema: Value, description: &str) -> Operation {
        self.parameters.push(json!({
            "name": name,
            "in": "query",
            "required": required,
            "description": description,
            "schema": schema
        }));
        self
    }

    fn parameter(mut self, parameter: Value) -> Operation {
        self.parameters.push(parameter);
        self
    }

    fn json_body(mut self, schema: Value, description: &str) -> Operation {
        self = self.errors(&[413, 415]);
        self.body.insert(
            "requestBody".into(),
            json!({
                "required": true,
                "description": description,
                "content": { "application/json": { "schema": schema } }
            }),
        );
        self
    }

    fn request_body(mut self, body: Value) -> Operation {
        self.body.insert("requestBody".into(), body);
        self
    }

    /// A JSON answer.
    fn answers(mut self, status: u16, description: &str, schema: Value) -> Operation {
        self.responses.insert(
            status.to_string(),
            json!({
                "description": description,
                "content": { "application/json": { "schema": schema } }
            }),
        );
        self
    }

    /// Any other answer, given whole.
    fn response(mut self, status: u16, response: Value) -> Operation {
        self.responses.insert(status.to_string(), response);
        self
    }

    /// An answer without a body.
    fn empty(self, status: u16, description: &str) -> Operation {
        self.response(status, json!({ "description": description }))
    }

    /// Error answers, by status, from the shared responses.
    fn errors(mut self, statuses: &[u16]) -> Operation {
        for status in statuses {
            let name = match status {
                400 => "InvalidRequest",
                401 => "Unauthenticated",
                403 => "Forbidden",
                404 => "NotFound",
                409 => "Conflict",
                413 => "PayloadTooLarge",
                415 => "UnsupportedMediaType",
                422 => "OutsideCity",
                429 => "RateLimited",
                500 => "Internal",
                503 => "StoreUnavailable",
                other => unreachable!("no shared response for {other}"),
            };
            self.responses.insert(
                status.to_string(),
                json!({ "$ref": format!("#/components/responses/{name}") }),
            );
        }
        self
    }

    /// The city handlers' query-string errors (see `InvalidQuery`).
    fn query_errors(mut self) -> Operation {
        self.responses.insert(
            "400".into(),
            json!({ "$ref": "#/components/responses/InvalidQuery" }),
        );
        self
    }
}

/// Failures of any handler that reads or writes the store.
const STORE: [u16; 2] = [500, 503];

fn paths() -> Value {
    let mut paths = Map::new();
    for operation in operations() {
        let mut body = operation.body;
        if !operation.parameters.is_empty() {
            body.insert("parameters".into(), Value::Array(operation.parameters));
        }
        let mut responses = operation.responses;
        // The per-address rate limit stands in front of every route.
        responses.insert(
            "429".into(),
            json!({ "$ref": "#/components/responses/RateLimited" }),
        );
        responses.sort_keys();
        body.insert("responses".into(), Value::Object(responses));
        let item = paths.entry(operation.path).or_insert_with(|| json!({}));
        if let Some(item) = item.as_object_mut() {
            item.insert(operation.method.into(), Value::Object(body));
        }
    }
    Value::Object(paths)
}

fn operations() -> Vec<Operation> {
    vec![
        // Service.
        operation("get", "/health", "service", "getHealth", "Whether the service and its store answer, and how durable writes are")
            .answers(200, "The service and its store answer.", schema_ref("Health"))
            .errors(&STORE),
        operation("get", "/openapi.json", "service", "getOpenApi", "This OpenAPI document")
            .answers(200, "The OpenAPI 3.1 document.", json!({ "type": "object" })),

        // City model.
        operation("get", "/divisions", "city", "getDivisionTree", "The division tree, without polygons")
            .query("depth", false, json!({ "type": "integer", "minimum": 0, "default": 4 }), "Levels below the roots to include.")
            .answers(200, "The roots of the division tree.", array(schema_ref("TreeNode")))
            .query_errors()
            .errors(&STORE),
        operation("get", "/divisions/{code}", "city", "getDivision", "One division, with its children's codes")
            .path_param("code", json!({ "type": "string", "pattern": "^[0-9]{6}([0-9]{3}){0,2}$" }), "A division code of 6, 9 or 12 digits.")
            .query("geometry", false, json!({ "type": "boolean", "default": false }), "Include the boundary as GeoJSON.")
            .answers(200, "The division.", schema_ref("Division"))
            .query_errors()
            .errors(&[404])
            .errors(&STORE),
        operation("get", "/grids/{code}", "city", "getGrid", "One unit grid, with its neighbours and shape")
            .path_param("code", schema_ref("GridCode"), "A 15-digit unit grid code.")
            .answers(200, "The unit grid.", schema_ref("Grid"))
            .errors(&[400, 404])
            .errors(&STORE),
        operation("get", "/locate", "city", "locatePoint", "Where a point lies: its unit grid, divisions and zones")
            .query("lon", true, number(), "Longitude.")
            .query("lat", true, number(), "Latitude.")
            .query("datum", false, schema_ref("DatumInput"), "The datum of `lon`/`lat`; WGS-84 when absent.")
            .answers(200, "Where the point lies.", schema_ref("Located"))
            .query_errors()
            .errors(&[409, 422]),
        operation("post", "/locate", "city", "locatePoints", "Where each of many points lies")
            .json_body(schema_ref("LocateBatch"), "At most 10,000 points.")
            .answers(200, "One answer per point, in order: each located, or an error of its own.", array(schema_ref("LocateAnswer")))
            .errors(&[400]),
        operation("get", "/layers/{level}", "city", "getLayer", "A level's divisions, or the unit grids within a box, as GeoJSON")
            .path_param(
                "level",
                string_enum(&["city", "district", "street", "community", "grid"], "A division level, or `grid`."),
                "A division level (case-insensitive; synonyms such as `county`, `town` and `village` are accepted), or `grid`.",
            )
            .query("zoom", false, json!({ "type": "integer", "minimum": 0, "maximum": 22 }), "Simplify boundaries for this web-map zoom level (division levels only).")
            .query("bbox", false, json!({ "type": "string", "examples": ["121.40,31.20,121.50,31.25"] }), "`minLon,minLat,maxLon,maxLat` (WGS-84); required for `grid`, which answers at most 20,000 grids.")
            .answers(
                200,
                "A FeatureCollection; every feature says whether its boundary was `generated`.",
                json!({ "anyOf": [schema_ref("DivisionLayer"), schema_ref("GridLayer")] }),
            )
            .query_errors()
            .errors(&STORE),
        // Evaluation.
        operation("get", "/scorecards", "evaluation", "getScorecard", "A scope's indicators, goal attainment, score and grade over a period")
            .description("Read from counters maintained in the same transaction as every case change. Scopes: `city`, a division code (district, street, community) or `zone:<id>`; a unit grid is read through its community. Territory-scoped: staff read their territory; a handler reads their own department.")
            .authenticated()
            .query("scope", false, string(), "`city` (default), a division code, or `zone:<id>`.")
            .query("from", false, json!({ "type": "string", "format": "date" }), "First day (Asia/Shanghai); default 29 days before `to`.")
            .query("to", false, json!({ "type": "string", "format": "date" }), "Last day, included; default today.")
            .query("department", false, string(), "Only this department's cases.")
            .answers(200, "The scorecard.", schema_ref("Scorecard"))
            .query_errors()
            .errors(&[401, 403, 404])
            .errors(&STORE),
        operation("get", "/scorecards/ranking", "evaluation", "getRanking", "Divisions or departments ranked by score or by one indicator")
            .authenticated()
            .query("level", false, string_enum(&["district", "street", "community", "department"], "What to rank."), "Default `district`.")
            .query("within", false, string(), "`city` (default) or a division code.")
            .query("from", false, json!({ "type": "string", "format": "date" }), "First day; default 29 days before `to`.")
            .query("to", false, json!({ "type": "string", "format": "date" }), "Last day; default today.")
            .query("by", false, string(), "`score` (default) or an indicator code.")
            .answers(200, "Best first; items without data last.", schema_ref("Ranking"))
            .query_errors()
            .errors(&[401, 403, 404])
            .errors(&STORE),
        operation("get", "/live", "cases", "watchCases", "Committed case changes as they happen (Server-Sent Events)")
            .description("Event `case` with data {id, state, kind, district, street, community, department, lon, lat, overdue, at} for every change the caller may see (territory; a handler's department); event `resync` when a slow reader missed changes. No personal data. Session cookies work (browsers' EventSource).")
            .authenticated()
            .response(200, json!({
                "description": "An endless event stream.",
                "content": { "text/event-stream": { "schema": { "type": "string" } } }
            }))
            .errors(&[401, 403]),
        operation("get", "/scorecards/trend", "evaluation", "getTrend", "One indicator of a scope per day, week or month")
            .authenticated()
            .query("scope", false, string(), "As for /scorecards.")
            .query("from", false, json!({ "type": "string", "format": "date" }), "First day.")
            .query("to", false, json!({ "type": "string", "format": "date" }), "Last day.")
            .query("bucket", false, string_enum(&["day", "week", "month"], "Bucket size."), "Default `day`.")
            .query("indicator", false, string(), "An indicator code; default `on_time_closure_rate`.")
            .query("department", false, string(), "Only this department's cases.")
            .answers(200, "One point per bucket, in order.", schema_ref("Trend"))
            .query_errors()
            .errors(&[401, 403, 404])
            .errors(&STORE),
        operation("get", "/indicators", "city", "listIndicators", "The indicator catalogue goals are set in")
            .answers(200, "Every indicator.", array(schema_ref("Indicator"))),
        operation("get", "/zone-types", "city", "listZoneTypes", "Zone types with their goal clusters")
            .answers(200, "Built-in types first.", array(schema_ref("ZoneType")))
            .errors(&STORE),
        operation("get", "/zones", "city", "listZones", "Zones with their effective goals")
            .answers(200, "Every zone.", array(schema_ref("Zone")))
            .errors(&STORE),
        operation("get", "/zones/{id}", "city", "getZone", "One zone")
            .path_param("id", string(), "A zone id.")
            .answers(200, "The zone.", schema_ref("Zone"))
            .errors(&[404])
            .errors(&STORE),
        operation("put", "/zones/{id}/goals", "city", "setZoneGoals", "Set or drop a zone's own goal cluster (city operators, admins)")
            .authenticated()
            .path_param("id", string(), "A zone id.")
            .json_body(
                closed(object_with(json!({
                    "targets": nullable(array(schema_ref("GoalTarget"))),
                    "version": described(int64(), "The zone version the editor read; a stale one is refused with 409.")
                }), &["targets"])),
                "The targets (weights sum to 1, each within its indicator's range), or null to read the type's goals again.",
            )
            .answers(200, "The zone with its new goals.", schema_ref("Zone"))
            .errors(&[400, 401, 403, 404, 409])
            .errors(&STORE),
        operation("put", "/zone-types/{code}/goals", "city", "setZoneTypeGoals", "Set a zone type's goal cluster (city operators, admins)")
            .authenticated()
            .path_param("code", string(), "A zone type code.")
            .json_body(
                closed(object_with(json!({
                    "targets": array(schema_ref("GoalTarget")),
                    "version": described(int64(), "The version the editor read.")
                }), &["targets"])),
                "The targets; every problem is named in the answer.",
            )
            .answers(200, "The zone type with its new goals.", schema_ref("ZoneType"))
            .errors(&[400, 401, 403, 404, 409])
            .errors(&STORE),
        operation("get", "/goal-history", "city", "getGoalHistory", "Who changed a goal cluster when")
            .query("subject", true, json!({ "type": "string", "pattern": "^zone(_type)?:", "examples": ["zone_type:residential"] }), "`zone_type:CODE` or `zone:ID`.")
            .answers(200, "The audit entries, oldest first.", array(schema_ref("GoalHistoryEntry")))
            .query_errors()
            .errors(&STORE),

        // Cases.
        operation("post", "/reports", "cases", "submitReport", "Report a problem: opens a case, or joins an open one nearby")
            .description("The point is located (a location is required), the description classified unless a category is given, and the case registered and dispatched when the rules decide. Inspectors report through `inspector`, hotline operators through `hotline`, citizens, community workers and volunteers through `web`; territory operators through any channel.")
            .authenticated()
            .parameter(json!({
                "name": "Idempotency-Key",
                "in": "header",
                "required": false,
                "description": "Used as `intake_key` when the body has none.",
                "schema": { "type": "string", "minLength": 1, "maxLength": 128 }
            }))
            .json_body(schema_ref("ReportBody"), "The report.")
            .answers(201, "A new case was opened, or the report was linked to an open one.", schema_ref("IntakeAnswer"))
            .answers(200, "The intake key was seen before: the earlier report's case.", schema_ref("IntakeAnswer"))
            .errors(&[400, 401, 403, 409, 422])
            .errors(&STORE),
        operation("post", "/reports/{id}/rating", "cases", "rateReport", "A reporter's rating of the closed case (by the reporter, or on the return call)")
            .authenticated()
            .path_param("id", string(), "A report id.")
            .json_body(schema_ref("RatingBody"), "The rating.")
            .answers(200, "The rated case.", schema_ref("CaseView"))
            .errors(&[400, 401, 403, 404, 409])
            .errors(&STORE),
        operation("get", "/cases", "cases", "listCases", "Cases the caller may see, newest first")
            .description("Scoped to the caller's territory; handlers see their department's cases, citizens their own reports' cases. Unknown parameters are refused.")
            .authenticated()
            .parameter(json!({
                "name": "state",
                "in": "query",
                "required": false,
                "description": "Only cases in these states (comma-separated).",
                "style": "form",
                "explode": false,
                "schema": array(schema_ref("CaseState"))
            }))
            .query("queue", false, string_enum(QUEUES, "A work queue of the case desk."), "Only cases in this work queue.")
            .query("department", false, string(), "Only cases of this department.")
            .query("division", false, json!({ "type": "string", "pattern": "^[0-9]{6}([0-9]{3}){0,2}$" }), "Only cases within this division (6, 9 or 12 digits).")
            .query("grid", false, string(), "Only cases in this unit grid.")
            .query("category", false, string(), "Only cases of this category.")
            .query("channel", false, schema_ref("Channel"), "Only cases opened through this channel.")
            .query("overdue", false, boolean(), "Only overdue (true) or not overdue (false) cases.")
            .query("reported_since_us", false, micros(), "Only cases reported at or after this instant.")
            .query("reported_until_us", false, micros(), "Only cases reported before this instant.")
            .query("before", false, string(), "Only cases with an id before this one: the next page.")
            .query("limit", false, json!({ "type": "integer", "minimum": 1, "maximum": 500, "default": 100 }), "Page size.")
            .answers(200, "The cases, newest first.", array(schema_ref("CaseView")))
            .errors(&[400, 401])
            .errors(&STORE),
        operation("get", "/cases/{id}", "cases", "getCase", "One case with its timeline and reports (without personal data)")
            .authenticated()
            .path_param("id", string(), "A case id.")
            .answers(200, "The case.", schema_ref("CaseDetail"))
            .errors(&[401, 404])
            .errors(&STORE),
        operation("post", "/cases/{id}/commands", "cases", "issueCommand", "Move a case through the loop")
            .description("Which roles may issue which command, and in which states, is decided by the case state machine; a refusal is 403 (role, territory, department) or 409 (`illegal_transition`, `stale_version`).")
            .authenticated()
            .path_param("id", string(), "A case id.")
            .json_body(schema_ref("CommandBody"), "The command.")
            .answers(200, "The case after the command.", schema_ref("CaseView"))
            .errors(&[400, 401, 403, 404, 409])
            .errors(&STORE),
        operation("get", "/cases/{id}/reporters", "cases", "listReporters", "The reporters' personal data, for calling them back (audited)")
            .description("For territory operators, hotline operators and dispatchers; every read is written to the audit trail before the data is returned.")
            .authenticated()
            .path_param("id", string(), "A case id.")
            .answers(200, "One entry per report.", array(schema_ref("ReporterView")))
            .errors(&[401, 403, 404])
            .errors(&STORE),
        operation("post", "/photos", "cases", "uploadPhoto", "Upload a photo to attach to a report or command")
            .authenticated()
            .request_body(json!({
                "required": true,
                "description": "A JPEG, PNG or WebP image of at most 5 MiB (5,242,880 bytes). The bytes must be the declared type; without a Content-Type the type is read from the bytes.",
                "content": {
                    "image/jpeg": { "schema": { "type": "string", "format": "binary" } },
                    "image/png": { "schema": { "type": "string", "format": "binary" } },
                    "image/webp": { "schema": { "type": "string", "format": "binary" } }
                }
            }))
            .answers(201, "The photo is stored, not yet attached to a case.", schema_ref("PhotoCreated"))
            .errors(&[400, 401, 413, 415])
            .errors(&STORE),
        operation("get", "/photos/{id}", "cases", "getPhoto", "A photo, for its uploader or anyone who may see its case")
            .authenticated()
            .path_param("id", string(), "A photo id.")
            .response(200, json!({
                "description": "The image.",
                "headers": {
                    "Cache-Control": { "schema": { "type": "string", "const": "private, max-age=86400" } }
                },
                "content": {
                    "image/jpeg": { "schema": { "type": "string", "format": "binary" } },
                    "image/png": { "schema": { "type": "string", "format": "binary" } },
                    "image/webp": { "schema": { "type": "string", "format": "binary" } }
                }
            }))
            .errors(&[401, 404])
            .errors(&STORE),
        operation("post", "/classify", "cases", "classifyText", "Suggest categories for a description")
            .authenticated()
            .json_body(schema_ref("ClassifyBody"), "The text to classify (at most 4,000 characters).")
            .answers(200, "Candidates, best first.", schema_ref("ClassifyAnswer"))
            .errors(&[400, 401])
            .errors(&STORE),

        // Rules.
        operation("get", "/categories", "rules", "listCategories", "The category catalogue")
            .answers(200, "Every category, by code.", array(schema_ref("Category"))),
        operation("post", "/categories", "rules", "createCategory", "Add a category (admins)")
            .authenticated()
            .json_body(schema_ref("Category"), "The new category.")
            .answers(201, "The category as stored.", schema_ref("Category"))
            .errors(&[400, 401, 403, 409])
            .errors(&STORE),
        operation("get", "/categories/{code}", "rules", "getCategory", "One category")
            .path_param("code", string(), "A category code.")
            .answers(200, "The category.", schema_ref("Category"))
            .errors(&[404]),
        operation("put", "/categories/{code}", "rules", "updateCategory", "Edit a category (admins); its code and kind stay")
            .authenticated()
            .path_param("code", string(), "A category code; must equal the body's `code`.")
            .json_body(schema_ref("Category"), "The whole category.")
            .answers(200, "The category as stored.", schema_ref("Category"))
            .errors(&[400, 401, 403, 404, 409])
            .errors(&STORE),
        operation("get", "/departments", "rules", "listDepartments", "Departments cases are dispatched to")
            .answers(200, "Every department.", array(schema_ref("Department"))),
        operation("put", "/departments/{id}", "rules", "putDepartment", "Add or replace a department (admins)")
            .authenticated()
            .path_param("id", json!({ "type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$" }), "A department id; must equal the body's `id`.")
            .json_body(schema_ref("Department"), "The whole department.")
            .answers(201, "The department was created.", schema_ref("Department"))
            .answers(200, "The department was replaced.", schema_ref("Department"))
            .errors(&[400, 401, 403])
            .errors(&STORE),
        operation("get", "/responsibility-rules", "rules", "listResponsibilityRules", "The rules that route cases to departments")
            .answers(200, "Every rule.", array(schema_ref("ResponsibilityRule"))),
        operation("post", "/responsibility-rules", "rules", "addResponsibilityRule", "Add a responsibility rule (admins)")
            .authenticated()
            .json_body(schema_ref("ResponsibilityRule"), "The rule; its department (and category, for a single code) must exist.")
            .answers(201, "The rule as stored.", schema_ref("ResponsibilityRule"))
            .errors(&[400, 401, 403, 409])
            .errors(&STORE),
        operation("delete", "/responsibility-rules/{id}", "rules", "deleteResponsibilityRule", "Remove a responsibility rule (admins)")
            .authenticated()
            .path_param("id", string(), "A rule id.")
            .empty(204, "The rule is removed.")
            .errors(&[401, 403, 404, 409])
            .errors(&STORE),
        operation("get", "/calendar/days", "rules", "listCalendarDays", "The calendar's overrides: public holidays and make-up working days")
            .answers(200, "Every override, by date.", array(schema_ref("CalendarDay"))),
        operation("put", "/calendar/days/{date}", "rules", "setCalendarDay", "Mark a day as a holiday or a working day (admins)")
            .authenticated()
            .path_param("date", json!({ "type": "string", "format": "date", "examples": ["2026-10-01"] }), "The day.")
            .json_body(schema_ref("CalendarDayBody"), "What the day is.")
            .empty(204, "The day is set; deadlines use it from now on.")
            .errors(&[400, 401, 403])
            .errors(&STORE),
        operation("delete", "/calendar/days/{date}", "rules", "clearCalendarDay", "Remove a day's override (admins)")
            .authenticated()
            .path_param("date", json!({ "type": "string", "format": "date", "examples": ["2026-10-01"] }), "The day.")
            .empty(204, "The override is removed (also when there was none).")
            .errors(&[400, 401, 403])
            .errors(&STORE),
        operation("get", "/settings/intake", "rules", "getIntakeSettings", "How intake merges duplicates and when it asks for confirmation")
            .answers(200, "The settings.", schema_ref("IntakeSettings")),
        operation("put", "/settings/intake", "rules", "setIntakeSettings", "Replace the intake settings (admins)")
            .authenticated()
            .json_body(schema_ref("IntakeSettings"), "The whole settings.")
            .answers(200, "The settings as stored.", schema_ref("IntakeSettings"))
            .errors(&[400, 401, 403])
            .errors(&STORE),

        // Access.
        operation("get", "/session", "access", "getSession", "Who the caller is (and, for a console session, its CSRF token and expiry)")
            .authenticated()
            .answers(200, "The caller.", schema_ref("SessionView"))
            .errors(&STORE),
        operation("post", "/session", "access", "login", "Log in to the console: opens a session")
            .description("Sets the `jz_session` cookie; later requests authenticate with it, and send the answer's `csrf_token` as `X-CSRF-Token` with every change. After 5 failed logins for a login name within 15 minutes, further attempts are refused with 429.")
            .json_body(schema_ref("LoginBody"), "The login name and password.")
            .response(200, json!({
                "description": "The session is open.",
                "headers": {
                    "Set-Cookie": {
                        "required": true,
                        "description": "`jz_session=…; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=43200`.",
                        "schema": string()
                    }
                },
                "content": { "application/json": { "schema": schema_ref("SessionView") } }
            }))
            .errors(&[400, 401, 429])
            .errors(&STORE),
        operation("delete", "/session", "access", "logout", "Log out: closes the console session")
            .description("Only for session callers (with their `X-CSRF-Token`); a bearer caller is answered 400.")
            .authenticated()
            .response(204, json!({
                "description": "The session is closed and its cookie cleared.",
                "headers": {
                    "Set-Cookie": {
                        "required": true,
                        "description": "`jz_session=; …; Max-Age=0`.",
                        "schema": string()
                    }
                }
            }))
            .errors(&[400])
            .errors(&STORE),
        operation("get", "/users", "access", "listUsers", "Users (admins)")
            .authenticated()
            .answers(200, "Every user, by name.", array(schema_ref("User")))
            .errors(&STORE),
        operation("post", "/users", "access", "createUser", "Add a user (admins), with a personal API token and optionally a console login")
            .authenticated()
            .json_body(schema_ref("UserBody"), "The new user.")
            .answers(201, "The user and their token.", schema_ref("NewUser"))
            .errors(&[400, 409])
            .errors(&STORE),
        operation("delete", "/users/{id}", "access", "revokeUser", "Revoke a user (admins): their token, API keys and sessions stop working at once")
            .authenticated()
            .path_param("id", string(), "A user id.")
            .empty(204, "The user is revoked.")
            .errors(&[404])
            .errors(&STORE),
        operation("put", "/users/{id}/password", "access", "setPassword", "Set a user's console login and password (admins, or the user themself)")
            .authenticated()
            .path_param("id", string(), "A user id.")
            .json_body(schema_ref("PasswordBody"), "The login name and the new password.")
            .empty(204, "The login and password are set.")
            .errors(&[400, 404, 409])
            .errors(&STORE),
        operation("get", "/keys", "access", "listApiKeys", "API keys (admins)")
            .authenticated()
            .answers(200, "Every key, by name.", array(schema_ref("ApiKey")))
            .errors(&STORE),
        operation("post", "/keys", "access", "createApiKey", "Create an API key for a system (admins)")
            .authenticated()
            .json_body(schema_ref("KeyBody"), "The key: the user it acts as, its scopes and rate.")
            .answers(201, "The key and its secret.", schema_ref("NewKey"))
            .errors(&[400])
            .errors(&STORE),
        operation("delete", "/keys/{id}", "access", "revokeApiKey", "Revoke an API key (admins): it stops working at once")
            .authenticated()
            .path_param("id", string(), "A key id.")
            .empty(204, "The key is revoked.")
            .errors(&[404])
            .errors(&STORE),
        operation("get", "/audit", "access", "listAuditEntries", "The audit trail of one subject (auditors, admins and city operators)")
            .authenticated()
            .description("A case's trail only for callers who may see the case (otherwise 404); every other subject's trail only for callers without a territory restriction (otherwise 403).")
            .query("subject_kind", true, json!({ "type": "string", "minLength": 1, "examples": ["case", "user", "api_key", "photo"] }), "The kind of subject.")
            .query("subject_id", true, json!({ "type": "string", "minLength": 1 }), "The subject's id.")
            .answers(200, "The subject's entries, oldest first.", array(schema_ref("AuditEntry")))
            .errors(&[400, 404])
            .errors(&STORE),
    ]
}
