//! Live case changes as Server-Sent Events (`GET /api/v1/live`), for the console's queues and
//! map: every committed change the caller may see, as it happens, without personal data.

use std::convert::Infallible;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::stream::{self, Stream};
use jz_app::cases::LiveEvent;
use jz_domain::access::{Actor, Role};
use jz_domain::division::DivisionCode;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/live", get(live))
}

/// Who may watch: staff who work cases (citizens and volunteers follow their own reports).
const WATCHERS: &[Role] = &[
    Role::CityOperator,
    Role::DistrictOperator,
    Role::StreetOperator,
    Role::Dispatcher,
    Role::Handler,
    Role::Inspector,
    Role::HotlineOperator,
    Role::CommunityWorker,
    Role::Auditor,
    Role::Admin,
];

/// Whether `actor` may see this change: inside their territory, and for a handler, their
/// department's cases.
fn may_see(actor: &Actor, event: &LiveEvent) -> bool {
    let Ok(community) = DivisionCode::parse(&event.community) else {
        return false;
    };
    if !actor.covers(&community) {
        return false;
    }
    actor.role != Role::Handler || event.department == actor.department
}

async fn live(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.require(WATCHERS, "watch live case changes")?;
    let receiver = state.cases.subscribe();
    let actor = caller.actor;
    let events = stream::unfold((receiver, actor), |(mut receiver, actor)| async move {
        loop {
            match receiver.recv().await {
                Ok(event) if may_see(&actor, &event) => {
                    let data = serde_json::to_string(&event).expect("events serialize");
                    let sse = Event::default()
                        .event("case")
                        .id(event.id.clone())
                        .data(data);
                    return Some((Ok(sse), (receiver, actor)));
                }
                Ok(_) => {}
                // A slow reader missed changes: tell it to reload what it shows.
                Err(RecvError::Lagged(missed)) => {
                    let sse = Event::default()
                        .event("resync")
                        .data(format!("{{\"missed\":{missed}}}"));
                    return Some((Ok(sse), (receiver, actor)));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
