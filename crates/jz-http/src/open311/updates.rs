//! FixMyStreet's request-update extension: `GET servicerequestupdates.{fmt}` lists the public
//! timeline events of cases as `request_update`s (oldest first), `POST` appends a client's
//! update to a case's timeline as a note, once per client update id.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use jz_app::cases::now_us;
use jz_app::open311::{self as catalogue, EXTENDED_STATUSES, UpdateInput, UpdateQuery};

use super::error::Open311Error;
use super::params::read_submission;
use super::requests::{authenticate, check_url, date_window, media_url, paging};
use super::wire::{Format, Node, respond};
use super::{Get, Settings};
use crate::AppState;

/// `GET servicerequestupdates.{fmt}`: `start_date`/`end_date` as for requests (at most 90 days,
/// the last 90 by default), or `service_request_id` (a comma list: those cases' whole
/// timelines); `page`/`page_size`. `api_key` is accepted and not needed.
pub(super) async fn list(
    state: &AppState,
    settings: &Settings,
    get: &Get,
    format: Format,
) -> Result<Response, Open311Error> {
    let params = &get.params;
    settings.check_jurisdiction(params)?;
    let config = state.cases.config.current();
    let mut problems = Vec::new();
    let case_ids = params.list("service_request_id");
    let (from_us, until_us) = if case_ids.is_empty() {
        date_window(params, &config, now_us(), &mut problems)
    } else {
        (i64::MIN, i64::MAX)
    };
    let (offset, limit) = paging(params, &mut problems);
    if case_ids.len() > 1000 {
        problems.push("service_request_id: at most 1000 ids".into());
    }
    if !problems.is_empty() {
        return Err(Open311Error::fields(problems));
    }
    let events = catalogue::list_updates(
        &state.store,
        &config,
        &UpdateQuery {
            case_ids,
            from_us,
            until_us,
            offset,
            limit,
        },
    )
    .await?;
    let tz = config.calendar.time_zone();
    let origin = settings.origin(&get.headers);
    let nodes = events
        .iter()
        .map(|event| {
            let status = if event.kind == "reopened" {
                "REOPEN"
            } else {
                catalogue::extended_status(event.state)
            };
            let media = event
                .photo
                .as_deref()
                .map(|id| media_url(&origin, id))
                .or_else(|| event.media_url.clone());
            Node::Object(vec![
                ("update_id", Node::text(event.id.clone())),
                ("service_request_id", Node::text(event.case_id.clone())),
                ("status", Node::text(status)),
                (
                    "updated_datetime",
                    Node::text(catalogue::format_w3c(event.at_us, tz)),
                ),
                ("description", Node::text(event.description.clone())),
                ("media_url", Node::opt(media)),
                ("external_status_code", Node::text(event.state.as_str())),
            ])
        })
        .collect();
    Ok(respond(
        format,
        StatusCode::OK,
        "service_request_updates",
        &Node::List("request_update", nodes),
    ))
}

/// `POST servicerequestupdates.{fmt}`: needs `api_key` (open311 scope), `service_request_id`,
/// `update_id`, `updated_datetime`, `status` (an extended status) and `description`; `media_url`
/// is optional. The reporter fields FixMyStreet sends (`first_name`, `last_name`, `email`,
/// `phone`) are not kept. Answers the update's id in Jingzhi (its timeline event), the same
/// for a repeated `update_id`.
pub(super) async fn post(
    state: &AppState,
    settings: &Settings,
    request: Request,
    format: Format,
) -> Result<Response, Open311Error> {
    let (parts, body) = request.into_parts();
    let origin = crate::auth::origin(&parts);
    let submission =
        read_submission(Request::from_parts(parts, body), crate::MAX_BODY_BYTES).await?;
    let params = &submission.params;
    settings.check_jurisdiction(params)?;
    let (user, key) = authenticate(state, params).await?;
    let config = state.cases.config.current();
    let mut problems = Vec::new();
    let mut required = |name: &str| {
        let value = params.get(name).map(str::to_owned);
        if value.is_none() {
            problems.push(format!("{name}: required"));
        }
        value
    };
    let case_id = required("service_request_id");
    let update_id = required("update_id");
    let updated = required("updated_datetime");
    let status = required("status");
    let description = required("description");
    let updated_at_us = updated.and_then(|text| {
        catalogue::parse_w3c(&text, config.calendar.time_zone())
            .map_err(|e| {
                problems.push(format!(
                    "updated_datetime: `{text}` is not a W3C datetime ({e})"
                ));
            })
            .ok()
    });
    let status = status.and_then(|s| {
        let upper = s.trim().to_ascii_uppercase();
        if EXTENDED_STATUSES.contains(&upper.as_str()) {
            Some(upper)
        } else {
            problems.push(format!(
                "status: `{s}` is not one of {}",
                EXTENDED_STATUSES.join(", ")
            ));
            None
        }
    });
    if let Some(update_id) = &update_id
        && update_id.trim().chars().count() > 128
    {
        problems.push("update_id: at most 128 characters".into());
    }
    if let Some(text) = &description
        && text.chars().count() > catalogue::MAX_TEXT_CHARS
    {
        problems.push(format!(
            "description: at most {} characters",
            catalogue::MAX_TEXT_CHARS
        ));
    }
    let media = params.get("media_url").map(|u| u.trim().to_owned());
    if let Some(url) = &media {
        check_url("media_url", url, &mut problems);
    }
    let (
        Some(case_id),
        Some(update_id),
        Some(updated_at_us),
        Some(status),
        Some(description),
        true,
    ) = (
        case_id,
        update_id,
        updated_at_us,
        status,
        description,
        problems.is_empty(),
    )
    else {
        return Err(Open311Error::fields(problems));
    };
    let outcome = catalogue::add_update(
        &state.cases,
        &UpdateInput {
            update_id: update_id.trim().to_owned(),
            service_request_id: case_id.trim().to_owned(),
            updated_at_us,
            status,
            description,
            media_url: media,
        },
        &user.actor(),
        &key.id,
        &origin,
        now_us(),
    )
    .await?;
    let node = Node::List(
        "request_update",
        vec![Node::Object(vec![(
            "update_id",
            Node::text(outcome.event_id),
        )])],
    );
    Ok(respond(
        format,
        StatusCode::OK,
        "service_request_updates",
        &node,
    ))
}
