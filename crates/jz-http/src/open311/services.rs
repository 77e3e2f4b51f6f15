//! Discovery, the service list and service definitions.

use axum::http::StatusCode;
use axum::response::Response;
use jz_app::cases::now_us;
use jz_app::open311::{self as catalogue, AttributeDefinition, MAX_PAGE_SIZE, Service};

use super::error::Open311Error;
use super::wire::{Format, Node, respond};
use super::{BASE_PATH, Get, SPECIFICATION, Settings};
use crate::AppState;

/// `discovery.{fmt}`: where the endpoint is, what it speaks, whom to ask for a key.
pub(super) async fn discovery(
    state: &AppState,
    settings: &Settings,
    get: &Get,
    format: Format,
) -> Result<Response, Open311Error> {
    let params = &get.params;
    settings.check_jurisdiction(params)?;
    // Seeds the catalogue on first use, so the changeset is the catalogue's.
    catalogue::services(&state.cases, now_us()).await?;
    let config = state.cases.config.current();
    let changed = catalogue::catalogue_changed_at_us(&state.store)
        .await?
        .unwrap_or(0);
    let changeset = catalogue::format_w3c(changed, config.calendar.time_zone());
    let node = Node::Object(vec![
        ("changeset", Node::text(changeset.clone())),
        ("contact", Node::text(settings.contact.clone())),
        ("key_service", Node::text(settings.key_service.clone())),
        ("max_requests", Node::Int(MAX_PAGE_SIZE)),
        (
            "endpoints",
            Node::List(
                "endpoint",
                vec![Node::Object(vec![
                    ("specification", Node::text(SPECIFICATION)),
                    (
                        "url",
                        Node::text(format!("{}{BASE_PATH}", settings.origin(&get.headers))),
                    ),
                    ("changeset", Node::text(changeset)),
                    ("type", Node::text(settings.endpoint_type.clone())),
                    (
                        "formats",
                        Node::List(
                            "format",
                            vec![Node::text("text/xml"), Node::text("application/json")],
                        ),
                    ),
                ])],
            ),
        ),
    ]);
    Ok(respond(format, StatusCode::OK, "discovery", &node))
}

fn service_node(service: &Service) -> Node {
    Node::Object(vec![
        ("service_code", Node::text(service.code.clone())),
        ("service_name", Node::text(service.name.clone())),
        ("description", Node::text(service.description.clone())),
        ("metadata", Node::Bool(service.metadata())),
        ("type", Node::text("realtime")),
        ("keywords", Node::text(service.keywords.join(","))),
        ("group", Node::text(service.group.clone())),
    ])
}

/// `services.{fmt}`: every exposed service, in catalogue order. (`lat`/`long` are accepted and
/// change nothing: every service is offered in the whole city.)
pub(super) async fn list(
    state: &AppState,
    settings: &Settings,
    get: &Get,
    format: Format,
) -> Result<Response, Open311Error> {
    let params = &get.params;
    settings.check_jurisdiction(params)?;
    let services = catalogue::services(&state.cases, now_us()).await?;
    let node = Node::List("service", services.iter().map(service_node).collect());
    Ok(respond(format, StatusCode::OK, "services", &node))
}

fn attribute_node(attribute: &AttributeDefinition) -> Node {
    Node::Object(vec![
        ("variable", Node::Bool(attribute.variable)),
        ("code", Node::text(attribute.code.clone())),
        ("datatype", Node::text(attribute.datatype.as_str())),
        ("required", Node::Bool(attribute.required)),
        (
            "datatype_description",
            Node::opt(attribute.datatype_description.clone()),
        ),
        ("order", Node::Int(i64::from(attribute.order))),
        ("description", Node::text(attribute.description.clone())),
        (
            "values",
            Node::List(
                "value",
                attribute
                    .values
                    .iter()
                    .map(|v| {
                        Node::Object(vec![
                            ("key", Node::text(v.key.clone())),
                            ("name", Node::text(v.name.clone())),
                        ])
                    })
                    .collect(),
            ),
        ),
    ])
}

/// The exposed service of a code, or 404.
pub(super) async fn find(state: &AppState, code: &str) -> Result<Service, Open311Error> {
    catalogue::services(&state.cases, now_us())
        .await?
        .into_iter()
        .find(|s| s.code == code)
        .ok_or_else(|| {
            Open311Error::not_found(format!(
                "service_code: no service `{code}`; see services.xml or services.json"
            ))
        })
}

/// `services/{code}.{fmt}`: the service's attributes, in order.
pub(super) async fn definition(
    state: &AppState,
    settings: &Settings,
    get: &Get,
    code: &str,
    format: Format,
) -> Result<Response, Open311Error> {
    let params = &get.params;
    settings.check_jurisdiction(params)?;
    let service = find(state, code).await?;
    let mut attributes = service.attributes.clone();
    attributes.sort_by_key(|a| a.order);
    let node = Node::Object(vec![
        ("service_code", Node::text(service.code.clone())),
        (
            "attributes",
            Node::List("attribute", attributes.iter().map(attribute_node).collect()),
        ),
    ]);
    Ok(respond(format, StatusCode::OK, "service_definition", &node))
}
