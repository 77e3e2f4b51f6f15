//! Intake: every channel's reports become cases here — located on the city model, classified,
//! merged into an open case of the same problem nearby, or registered and dispatched.
//!
//! Decisions that depend on other reports (duplicate merging, idempotency keys) are made one at a
//! time by the [`Desk`], which holds the open cases' positions in memory; the writes themselves are
//! queued to the group-commit writer while the desk moves on, so many reports share one commit.

use std::collections::HashMap;

use jz_classify::Candidate;
use jz_domain::access::{Actor, Role};
use jz_domain::case::{self, Case, CaseState, Channel, Command, NewCase, Place, Rating, Rules};
use jz_domain::category::Urgency;
use jz_domain::division::DivisionLevel;
use jz_domain::responsibility::{Placement, Routing};
use jz_geo::datum::Datum;
use jz_store::{Arg, Change, Statement, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use super::{
    CaseError, Cases, Context, MAX_PHOTOS, insert_case, load_case, new_id, update_case,
    write_events,
};

/// Maximum characters of a report's description.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
/// Maximum characters of an idempotency key.
pub const MAX_KEY_CHARS: usize = 128;

/// Who reported, as far as they told. Never shown on public endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reporter {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// An account id in the reporting system (app user, Open311 account).
    pub account: Option<String>,
    pub device: Option<String>,
}

/// One report, from any channel.
#[derive(Debug, Clone)]
pub struct ReportInput {
    pub channel: Channel,
    pub description: String,
    pub lon: f64,
    pub lat: f64,
    pub datum: Datum,
    pub address: Option<String>,
    /// The category, when the reporter or operator chose one.
    pub category: Option<String>,
    pub urgency: Option<Urgency>,
    pub reporter: Reporter,
    /// A client-supplied key: retries with the same key yield the same case.
    pub intake_key: Option<String>,
    /// Photos uploaded beforehand.
    pub photos: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new case was opened.
    Created,
    /// The report was merged into an open case of the same problem nearby.
    Linked,
    /// The intake key was seen before: the earlier report's case.
    Replayed,
}

/// What intake did with a report.
#[derive(Debug, Clone)]
pub struct IntakeResult {
    pub outcome: Outcome,
    pub case: Case,
    /// `case` serialized (serde JSON of [`Case`]) when intake wrote it whole — a new case — so
    /// an adapter can answer with the same bytes instead of serializing it again.
    pub case_json: Option<String>,
    pub report_id: String,
    /// Classification candidates, best first (empty when the category was given).
    pub candidates: Vec<Candidate>,
    /// True when the category is not certain and an operator must confirm it.
    pub needs_confirmation: bool,
}

impl IntakeResult {
    /// The answer to a retry: the first attempt's report and its case as it is now.
    fn replayed(case: Case, report_id: String) -> IntakeResult {
        IntakeResult {
            outcome: Outcome::Replayed,
            case,
            case_json: None,
            report_id,
            candidates: Vec::new(),
            needs_confirmation: false,
        }
    }
}

/// What the first attempt with an intake key came to: its report and case, or why it failed.
type KeyOutcome = Result<(String, Case), String>;

#[derive(Debug, Clone)]
struct OpenCase {
    category: String,
    lon: f64,
    lat: f64,
    last_at_us: i64,
}

/// The intake desk's memory: open cases by category and position, and recent intake keys.
#[derive(Debug, Default)]
pub struct Desk {
    /// Intake keys of reports whose writes are in flight: retries wait for the first attempt's
    /// commit and answer with its outcome (acknowledged means committed).
    keys: HashMap<String, (String, tokio::sync::watch::Receiver<Option<KeyOutcome>>)>,
    /// Cases created by writes still in flight, so further reports can link to them.
    pending: foldhash::HashMap<String, Case>,
    cell_m: f64,
    /// Open cases' ids by category, then merge cell (looked up by `&str`, without allocating).
    /// These maps, keyed by the server's own ids and by cells, are hashed with foldhash (seeded
    /// per process; SipHash was a third of the merge lookup); `keys`, whose keys clients choose,
    /// keeps the standard library's SipHash.
    cells: foldhash::HashMap<String, foldhash::HashMap<(i64, i64), Vec<String>>>,
    open: foldhash::HashMap<String, OpenCase>,
}

const METRES_PER_DEGREE: f64 = 111_320.0;

/// The merge index's cell of a point. Longitude is scaled by a fixed cos(60°) = 0.5, not the
/// point's own latitude: with a per-point scale, two points a few metres apart north–south got
/// x cells tens of metres apart (the scale multiplies the whole longitude). With 0.5 a cell is at
/// least `cell_m` wide everywhere up to 60° latitude, so the 3 × 3 neighbourhood covers every
/// point within `cell_m`; the exact distance is checked afterwards.
fn cell_of(lon: f64, lat: f64, cell_m: f64) -> (i64, i64) {
    let x = lon * METRES_PER_DEGREE * 0.5 / cell_m;
    let y = lat * METRES_PER_DEGREE / cell_m;
    (x.floor() as i64, y.floor() as i64)
}

impl Desk {
    /// Loads the open, categorised cases for merging.
    pub async fn load(store: &Store) -> Result<Desk, CaseError> {
        let mut desk = Desk {
            cell_m: 50.0,
            ..Desk::default()
        };
        let rows = sqlx::query(
            "SELECT c.id, c.category_code, c.lon, c.lat, (SELECT MAX(r.reported_at_us) FROM case_report r WHERE r.case_id = c.id)
             FROM case_file c WHERE c.category_code IS NOT NULL AND c.state NOT IN ('rejected', 'closed', 'rated', 'cancelled')",
        )
        .fetch_all(store.reader())
        .await?;
        for row in rows {
            let id: String = row.try_get(0)?;
            desk.insert(
                id,
                OpenCase {
                    category: row.try_get(1)?,
                    lon: row.try_get(2)?,
                    lat: row.try_get(3)?,
                    last_at_us: row.try_get::<Option<i64>, _>(4)?.unwrap_or(0),
                },
            );
        }
        Ok(desk)
    }

    fn insert(&mut self, id: String, case: OpenCase) {
        let (x, y) = cell_of(case.lon, case.lat, self.cell_m);
        self.cells
            .entry(case.category.clone())
            .or_default()
            .entry((x, y))
            .or_default()
            .push(id.clone());
        self.open.insert(id, case);
    }

    fn remove(&mut self, id: &str) {
        if let Some(case) = self.open.remove(id) {
            let (x, y) = cell_of(case.lon, case.lat, self.cell_m);
            if let Some(ids) = self
                .cells
                .get_mut(&case.category)
                .and_then(|cells| cells.get_mut(&(x, y)))
            {
                ids.retain(|i| i != id);
            }
        }
    }

    /// Keeps the merge index in step with a case after a command; `last_report_at_us` is the
    /// time of the case's latest report (needed only when the case (re-)enters the index).
    pub(crate) fn after_command(&mut self, case: &Case, last_report_at_us: Option<i64>) {
        match (&case.category, case.state.is_open()) {
            (Some(category), true) if !self.open.contains_key(&case.id) => {
                self.insert(
                    case.id.clone(),
                    OpenCase {
                        category: category.clone(),
                        lon: case.place.lon,
                        lat: case.place.lat,
                        last_at_us: last_report_at_us.unwrap_or(case.reported_at_us),
                    },
                );
            }
            (_, false) => self.remove(&case.id),
            _ => {}
        }
    }

    /// Whether the case would (re-)enter the merge index after this state.
    pub(crate) fn needs_entry(&self, case: &Case) -> bool {
        case.category.is_some() && case.state.is_open() && !self.open.contains_key(&case.id)
    }

    fn rebuild(&mut self, cell_m: f64) {
        let open = std::mem::take(&mut self.open);
        self.cells.clear();
        self.cell_m = cell_m;
        for (id, case) in open {
            self.insert(id, case);
        }
    }

    /// The nearest open case of `category` within `distance_m` whose latest report is at most
    /// `window_us` old.
    fn nearby(
        &self,
        category: &str,
        lon: f64,
        lat: f64,
        distance_m: f64,
        window_us: i64,
        at_us: i64,
    ) -> Option<String> {
        let (x, y) = cell_of(lon, lat, self.cell_m);
        let cells = self.cells.get(category)?;
        let mut best: Option<(f64, &String)> = None;
        for dx in -1..=1 {
            for dy in -1..=1 {
                let Some(ids) = cells.get(&(x + dx, y + dy)) else {
                    continue;
                };
                for id in ids {
                    let Some(case) = self.open.get(id) else {
                        continue;
                    };
                    if at_us - case.last_at_us > window_us {
                        continue;
                    }
                    let d = jz_geo::measure::distance_m(
                        geo_types::Point::new(lon, lat),
                        geo_types::Point::new(case.lon, case.lat),
                    );
                    if d <= distance_m && best.is_none_or(|(b, _)| d < b) {
                        best = Some((d, id));
                    }
                }
            }
        }
        best.map(|(_, id)| id.clone())
    }
}

fn validate(input: &ReportInput) -> Result<(), CaseError> {
    let chars = input.description.trim().chars().count();
    if chars == 0 {
        return Err(CaseError::Invalid("description: must not be empty".into()));
    }
    if input.description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(CaseError::Invalid(format!(
            "description: at most {MAX_DESCRIPTION_CHARS} characters (got {})",
            input.description.chars().count()
        )));
    }
    if let Some(key) = &input.intake_key
        && (key.is_empty() || key.chars().count() > MAX_KEY_CHARS)
    {
        return Err(CaseError::Invalid(format!(
            "intake_key: 1 to {MAX_KEY_CHARS} characters"
        )));
    }
    if input.photos.len() > MAX_PHOTOS {
        return Err(CaseError::Invalid(format!(
            "photos: at most {MAX_PHOTOS} per report"
        )));
    }
    let fields = [
        ("address", &input.address),
        ("reporter.name", &input.reporter.name),
        ("reporter.phone", &input.reporter.phone),
        ("reporter.email", &input.reporter.email),
        ("reporter.account", &input.reporter.account),
        ("reporter.device", &input.reporter.device),
    ];
    for (field, value) in fields {
        if value.as_ref().is_some_and(|v| v.chars().count() > 200) {
            return Err(CaseError::Invalid(format!(
                "{field}: at most 200 characters"
            )));
        }
    }
    Ok(())
}

fn datum_name(datum: Datum) -> &'static str {
    match datum {
        Datum::Wgs84 => "wgs84",
        Datum::Gcj02 => "gcj02",
        Datum::Bd09 => "bd09",
    }
}

impl Cases {
    /// Takes in one report from any channel.
    pub async fn intake(
        &self,
        input: ReportInput,
        actor: &Actor,
        origin: &str,
        at_us: i64,
    ) -> Result<IntakeResult, CaseError> {
        // A report linked to a case that was closed between the decision and the write is
        // decided again (the case is then no longer open, so a new one is opened).
        for _ in 0..3 {
            match self.intake_once(input.clone(), actor, origin, at_us).await {
                Err(CaseError::Stale { expected: -1, .. }) => continue,
                other => return other,
            }
        }
        Err(CaseError::IllegalTransition(
            "the nearby case this report belongs to keeps changing; send the report again".into(),
        ))
    }

    async fn intake_once(
        &self,
        input: ReportInput,
        actor: &Actor,
        origin: &str,
        at_us: i64,
    ) -> Result<IntakeResult, CaseError> {
        validate(&input)?;
        let config = self.config.current();
        // Locate and classify before taking the desk: neither depends on other reports.
        let located = self
            .city
            .current()
            .locate(input.lon, input.lat, input.datum)?;
        let community = located
            .at(DivisionLevel::Community)
            .ok_or_else(|| CaseError::Invalid("location: the point lies in no community".into()))?;
        let street = located
            .at(DivisionLevel::Street)
            .ok_or_else(|| CaseError::Invalid("location: the point lies in no street".into()))?;
        let district = located
            .at(DivisionLevel::District)
            .ok_or_else(|| CaseError::Invalid("location: the point lies in no district".into()))?;
        let place = Place {
            lon: located.wgs84.0,
            lat: located.wgs84.1,
            grid: located
                .grid
                .map(|g| g.as_str().to_owned())
                .unwrap_or_else(|| community.code.as_str().to_owned()),
            community: community.code,
            street: street.code,
            district: district.code,
            zones: located.zones.iter().map(|z| z.id.clone()).collect(),
        };
        if !actor.covers(&place.community) {
            return Err(CaseError::Forbidden(format!(
                "the point lies in community {}, outside your territory",
                place.community
            )));
        }
        let (category, candidates, needs_confirmation) = match &input.category {
            Some(code) => {
                super::config::active_category(&config, code)?;
                (Some(code.clone()), Vec::new(), false)
            }
            None => {
                let candidates = jz_classify::shipped().classify(&input.description, 3);
                let confident = candidates.first().filter(|c| {
                    c.confidence >= config.intake.confirm_threshold
                        && config.category(&c.code).is_some_and(|cat| cat.active)
                });
                match confident {
                    Some(best) => (Some(best.code.clone()), candidates.clone(), false),
                    None => (None, candidates, true),
                }
            }
        };
        let report_id = new_id();
        let classification = (!candidates.is_empty()).then(|| {
            serde_json::to_string(
                &candidates
                    .iter()
                    .map(|c| json!({ "code": c.code, "confidence": c.confidence }))
                    .collect::<Vec<_>>(),
            )
            .expect("candidates serialize")
        });
        let context = Context {
            note: None,
            photos: input.photos.clone(),
            position: None,
            origin: origin.to_owned(),
        };

        // A report merged into an open case reads that case, and not while holding the desk
        // (every other report would wait for the read): when the desk names a case that was not
        // read yet, it is let go, the case read, and the desk taken again and asked again. The
        // common report, merged into nothing, takes the desk once. The decision uses the read
        // when the desk names the same case the second time (else it reads under the desk, as
        // before); a case changed meanwhile is caught by the write's guard like any other, and
        // the report decided again.
        let nearby_case = |desk: &Desk| {
            category.as_deref().and_then(|code| {
                desk.nearby(
                    code,
                    place.lon,
                    place.lat,
                    config.intake.dedupe_distance_m,
                    config.intake.dedupe_window_minutes * 60_000_000,
                    at_us,
                )
            })
        };
        let mut preloaded: Option<(Option<Case>, String)> = None;
        let (mut desk, duplicate) = loop {
            let mut desk = self.desk.lock().await;
            // Intake keys: a retry while the first attempt is in flight is answered from the
            // desk's memory; a retry after it committed is refused by the unique `intake_key`
            // column and answered from the store (below). Retries are rare, so the common path
            // reads nothing.
            if let Some((submitter, mut first)) = input
                .intake_key
                .as_ref()
                .and_then(|key| desk.keys.get(key).cloned())
            {
                if submitter != actor.id {
                    return Err(key_taken());
                }
                // The first attempt is still being written: wait for its commit, then answer with
                // it.
                drop(desk);
                let outcome = first
                    .wait_for(Option::is_some)
                    .await
                    .map(|v| v.clone())
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| Err("the first attempt was abandoned".into()));
                return match outcome {
                    Ok((report_id, case)) => Ok(IntakeResult::replayed(case, report_id)),
                    Err(why) => Err(CaseError::IllegalTransition(format!(
                        "intake_key: the first report with this key was not written ({why}); send it again"
                    ))),
                };
            }
            if (desk.cell_m - config.intake.dedupe_distance_m.max(1.0)).abs() > f64::EPSILON {
                desk.rebuild(config.intake.dedupe_distance_m.max(1.0));
            }
            let duplicate = nearby_case(&desk);
            match &duplicate {
                Some(id) if preloaded.is_none() => {
                    let id = id.clone();
                    drop(desk);
                    preloaded = Some((load_case(&self.store, &id).await?, id));
                }
                _ => break (desk, duplicate),
            }
        };

        // The report's row. Merged into an existing case, it is written only while that case is
        // still open (one row or the change is refused, and the report decided again): the case's
        // own row is not rewritten, its reporters are its reports counted.
        let report = |case_id: &str, merged: bool| {
            let statement = Statement::new(if merged {
                "INSERT INTO case_report (id, case_id, channel, description, lon, lat, input_lon, input_lat, datum, address,
                   reporter_name, reporter_phone, reporter_email, reporter_account, device_id, submitted_by, intake_key, classification, reported_at_us)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19
                 WHERE EXISTS (SELECT 1 FROM case_file WHERE id = $2 AND state NOT IN ('rejected', 'closed', 'rated', 'cancelled'))"
            } else {
                "INSERT INTO case_report (id, case_id, channel, description, lon, lat, input_lon, input_lat, datum, address,
                   reporter_name, reporter_phone, reporter_email, reporter_account, device_id, submitted_by, intake_key, classification, reported_at_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
            });
            let statement = if merged {
                statement.expect_rows(1)
            } else {
                statement
            };
            statement
                .bind(report_id.clone())
                .bind(case_id)
                .bind(input.channel.as_str())
                .bind(input.description.clone())
                .bind(place.lon)
                .bind(place.lat)
                .bind(input.lon)
                .bind(input.lat)
                .bind(datum_name(input.datum))
                .bind(input.address.clone())
                .bind(input.reporter.name.clone())
                .bind(input.reporter.phone.clone())
                .bind(input.reporter.email.clone())
                .bind(input.reporter.account.clone())
                .bind(input.reporter.device.clone())
                .bind(actor.id.clone())
                .bind(input.intake_key.clone())
                .bind(classification.clone())
                .bind(at_us)
        };

        let mut previous_last_at = None;
        let (outcome, decision, mut change, case_json) = match duplicate {
            Some(case_id) => {
                // A case whose creation is still being written is linked from its snapshot; the
                // writer applies changes in order, so the link lands after the creation.
                let read = match preloaded.take().filter(|(_, id)| *id == case_id) {
                    Some((read, _)) => read,
                    None => load_case(&self.store, &case_id).await?,
                };
                let existing = match read {
                    Some(found) => Some(found),
                    None => desk.pending.get(&case_id).cloned(),
                };
                match existing.filter(|c| c.state.is_open()) {
                    Some(existing) => {
                        let decision = case::link_report(&existing, actor, at_us, &report_id);
                        let mut change = Change::new().statement(report(&case_id, true));
                        // Linking does not change the case's version: a department acting on
                        // the case at the same time is not made stale by a new reporter.
                        let mut audited = decision.clone();
                        audited.case.version = existing.version;
                        write_events(&mut change, None, &audited, &context);
                        if let Some(open) = desk.open.get_mut(&case_id) {
                            previous_last_at = Some(open.last_at_us);
                            open.last_at_us = at_us;
                        }
                        (Outcome::Linked, audited, change, None)
                    }
                    None => {
                        desk.remove(&case_id);
                        self.new_case(
                            &input,
                            &place,
                            &located.zones,
                            category.as_deref(),
                            actor,
                            at_us,
                            &report_id,
                            &config,
                        )?
                    }
                }
            }
            None => self.new_case(
                &input,
                &place,
                &located.zones,
                category.as_deref(),
                actor,
                at_us,
                &report_id,
                &config,
            )?,
        };
        if outcome == Outcome::Created {
            change.statements.push(report(&decision.case.id, false));
            write_events(&mut change, None, &decision, &context);
            change
                .tallies
                .extend(crate::evaluation::counter_tallies(None, &decision.case));
            desk.after_command(&decision.case, Some(at_us));
            desk.pending
                .insert(decision.case.id.clone(), decision.case.clone());
        }
        self.attach_photos(&mut change, &decision.case.id, &input.photos, actor);
        let key_sender = input.intake_key.as_ref().map(|key| {
            let (sender, receiver) = tokio::sync::watch::channel(None);
            desk.keys.insert(key.clone(), (actor.id.clone(), receiver));
            sender
        });
        // Queue the write while holding the desk, so the order of decisions is the order of
        // writes; wait for the commit without it.
        let photo_statements = change.statements.len() - input.photos.len();
        let committed = self.store.write(change);
        drop(desk);
        let committed = committed.await;
        {
            // Committed keys and cases are found in the store from now on; the desk keeps only
            // what is in flight, so its memory stays bounded.
            let mut desk = self.desk.lock().await;
            if let Some(key) = &input.intake_key {
                desk.keys.remove(key);
            }
            desk.pending.remove(&decision.case.id);
            if committed.is_err() {
                if outcome == Outcome::Created {
                    desk.remove(&decision.case.id);
                }
                if let (Some(previous), Some(open)) =
                    (previous_last_at, desk.open.get_mut(&decision.case.id))
                    && open.last_at_us == at_us
                {
                    open.last_at_us = previous;
                }
            }
        }
        if committed.is_ok() {
            self.announce(&decision);
        }
        let version = decision.case.version;
        let result = match committed {
            Ok(_) => Ok(IntakeResult {
                outcome,
                case: decision.case,
                case_json,
                report_id: report_id.clone(),
                candidates,
                needs_confirmation,
            }),
            Err(error) => 'failed: {
                // A retry that missed the committed first attempt: the unique key refuses the
                // second report; answer as a replay of the committed one.
                if let (StoreError::Constraint { .. }, Some(key)) = (&error, &input.intake_key) {
                    match self.replay_of(key, actor).await {
                        Ok(Some(replay)) => break 'failed Ok(replay),
                        Ok(None) => {}
                        Err(e) => break 'failed Err(e),
                    }
                }
                Err(match error {
                    StoreError::Conflict { statement, .. } if statement >= photo_statements => {
                        CaseError::Invalid(
                            "photos: a photo does not exist or belongs to another case".into(),
                        )
                    }
                    // The linked case left the open states meanwhile: decide again (marker).
                    StoreError::Conflict { .. } if outcome == Outcome::Linked => CaseError::Stale {
                        expected: -1,
                        found: version,
                    },
                    StoreError::Constraint { message, .. } if !input.photos.is_empty() => {
                        CaseError::Invalid(format!(
                            "photos: a photo does not exist or belongs to another case ({message})"
                        ))
                    }
                    other => other.into(),
                })
            }
        };
        // Retries that waited for this attempt get its final answer (the desk let go of its
        // own receiver above: one left is a retry's).
        if let Some(sender) = key_sender.filter(|sender| sender.receiver_count() > 0) {
            let _ = sender.send(Some(
                result
                    .as_ref()
                    .map(|r| (r.report_id.clone(), r.case.clone()))
                    .map_err(|e| e.to_string()),
            ));
        }
        result
    }

    /// The committed report with this intake key, as a replay.
    async fn replay_of(&self, key: &str, actor: &Actor) -> Result<Option<IntakeResult>, CaseError> {
        let Some(mut row) = self
            .store
            .read_row(
                "SELECT case_id, id, submitted_by FROM case_report WHERE intake_key = $1",
                &[Arg::from(key)],
            )
            .await?
        else {
            return Ok(None);
        };
        // A key is its submitter's: someone else's key answers nothing about its report.
        if row.swap_remove(2).into_text("submitted_by")?.as_deref() != Some(actor.id.as_str()) {
            return Err(key_taken());
        }
        let report_id = row.swap_remove(1).into_text("id")?.unwrap_or_default();
        let case_id = row.swap_remove(0).into_text("case_id")?.unwrap_or_default();
        let case = load_case(&self.store, &case_id)
            .await?
            .ok_or_else(|| CaseError::NotFound(format!("case {case_id}")))?;
        Ok(Some(IntakeResult::replayed(case, report_id)))
    }

    /// Opens a case; registers it when the category is certain, and dispatches it when exactly
    /// one responsibility rule decides.
    #[allow(clippy::too_many_arguments)]
    fn new_case(
        &self,
        input: &ReportInput,
        place: &Place,
        zones: &[crate::city::model::ZoneRef],
        category: Option<&str>,
        actor: &Actor,
        at_us: i64,
        report_id: &str,
        config: &super::CaseConfig,
    ) -> Result<(Outcome, case::Decision, Change, Option<String>), CaseError> {
        let _ = report_id;
        let rules = |category: Option<&str>| Rules {
            calendar: &config.calendar,
            default_limits: &config.default_limits,
            category: category.and_then(|c| config.category(c)),
            departments: &config.active_departments,
        };
        let mut decision = case::open(
            NewCase {
                id: new_id(),
                channel: input.channel,
                description: input.description.clone(),
                place: place.clone(),
                at_us,
            },
            &rules(None),
            actor,
        );
        let system = Actor::system("intake");
        if let Some(code) = category {
            let registered = case::decide(
                &decision.case,
                &Command::Register {
                    category: code.to_owned(),
                    urgency: input.urgency,
                },
                &system,
                at_us,
                &rules(Some(code)),
            )?;
            decision.events.extend(registered.events);
            decision.case = registered.case;
            let zone_ids: Vec<String> = zones.iter().map(|z| z.id.clone()).collect();
            route_and_dispatch(&mut decision, config, &zone_ids, at_us)?;
        }
        // One row for the case in its final state after intake; its JSON is also the answer's.
        let json = serde_json::to_string(&decision.case).expect("a case serializes");
        let change = Change::new().statement(insert_case(&decision.case, at_us, json.clone()));
        Ok((Outcome::Created, decision, change, Some(json)))
    }

    /// Records a reporter's rating of a closed case (by the reporter, or by a hotline operator
    /// on the return call). Each reporter rates once per closing.
    pub async fn rate(
        &self,
        report_id: &str,
        rating: Rating,
        comment: Option<String>,
        actor: &Actor,
        origin: &str,
        at_us: i64,
    ) -> Result<Case, CaseError> {
        if comment
            .as_ref()
            .is_some_and(|c| c.chars().count() > super::MAX_NOTE_CHARS)
        {
            return Err(CaseError::Invalid(format!(
                "comment: at most {} characters",
                super::MAX_NOTE_CHARS
            )));
        }
        let mut row = self
            .store
            .read_row(
                concat!(
                    "SELECT r.case_id, r.submitted_by, r.rating_round, c.data, ",
                    super::reporters_of!("c"),
                    " FROM case_report r JOIN case_file c ON c.id = r.case_id WHERE r.id = $1"
                ),
                &[Arg::from(report_id)],
            )
            .await?
            .ok_or_else(|| CaseError::NotFound(format!("report {report_id}")))?;
        let rated_round = row[2].as_int("rating_round")?;
        let reporters = row.swap_remove(4);
        let current = super::case_from_cells(row.swap_remove(3), &reporters)?;
        let submitted_by = row
            .swap_remove(1)
            .into_text("submitted_by")?
            .unwrap_or_default();
        let case_id = row.swap_remove(0).into_text("case_id")?.unwrap_or_default();
        if !self.may_see(actor, &current).await? {
            return Err(CaseError::NotFound(format!("report {report_id}")));
        }
        if actor.role == Role::Citizen && actor.id != submitted_by {
            return Err(CaseError::Forbidden(
                "only the reporter may rate their report".into(),
            ));
        }
        if current.rating_round > 0 && rated_round == Some(i64::from(current.rating_round)) {
            return Err(CaseError::IllegalTransition(format!(
                "report {report_id} has already been rated for this closing of the case"
            )));
        }
        let config = self.config.current();
        let rules = Rules {
            calendar: &config.calendar,
            default_limits: &config.default_limits,
            category: current.category.as_deref().and_then(|c| config.category(c)),
            departments: &config.active_departments,
        };
        let decision = case::decide(&current, &Command::Rate { rating }, actor, at_us, &rules)?;
        let context = Context {
            note: comment.clone(),
            photos: Vec::new(),
            position: None,
            origin: origin.to_owned(),
        };
        let mut change = Change::new()
            .statement(update_case(&decision.case, current.version, at_us))
            .statement(
                Statement::new(
                    "UPDATE case_report SET rating = $2, rating_comment = $3, rating_round = $4, rated_at_us = $5
                     WHERE id = $1 AND (rating_round IS NULL OR rating_round < $4)",
                )
                .bind(report_id)
                .bind(rating.as_str())
                .bind(comment)
                .bind(i64::from(current.rating_round))
                .bind(at_us)
                .expect_rows(1),
            );
        write_events(&mut change, Some(&current), &decision, &context);
        change.tallies.extend(crate::evaluation::counter_tallies(
            Some(&current),
            &decision.case,
        ));
        match self.store.write(change).await {
            Ok(_) => {}
            Err(StoreError::Conflict { .. }) => {
                let found = load_case(&self.store, &case_id)
                    .await?
                    .map_or(0, |c| c.version);
                return Err(CaseError::Stale {
                    expected: current.version,
                    found,
                });
            }
            Err(e) => return Err(e.into()),
        }
        self.announce(&decision);
        self.sync_desk(&decision.case).await?;
        Ok(decision.case)
    }

    /// Keeps the desk's merge index in step after a command or rating; a case that re-enters it
    /// (reopened) brings the time of its latest report.
    pub(crate) async fn sync_desk(&self, case: &Case) -> Result<(), CaseError> {
        let needs_entry = self.desk.lock().await.needs_entry(case);
        let last = if needs_entry {
            match self
                .store
                .read_row(
                    "SELECT MAX(reported_at_us) FROM case_report WHERE case_id = $1",
                    &[Arg::from(case.id.as_str())],
                )
                .await?
            {
                Some(row) => row[0].as_int("MAX(reported_at_us)")?,
                None => None,
            }
        } else {
            None
        };
        self.desk.lock().await.after_command(case, last);
        Ok(())
    }
}

/// Another submitter's intake key: refused without saying anything about its report.
fn key_taken() -> CaseError {
    CaseError::Exists("a report with this intake_key from another submitter".into())
}

/// Routes a freshly registered case by the responsibility rules: dispatched by the system when
/// exactly one rule decides, otherwise left registered with the reason and the candidates.
pub(crate) fn route_and_dispatch(
    decision: &mut case::Decision,
    config: &super::CaseConfig,
    zones: &[String],
    at_us: i64,
) -> Result<(), CaseError> {
    let Some(code) = decision.case.category.clone() else {
        return Ok(());
    };
    let place = &decision.case.place;
    let divisions = [place.community, place.street, place.district];
    match config.rules.route(
        &code,
        Placement {
            divisions: &divisions,
            zones,
        },
        DivisionLevel::Street,
    ) {
        Routing::Department { department, .. }
            if config.active_departments.contains(&department) =>
        {
            let rules = Rules {
                calendar: &config.calendar,
                default_limits: &config.default_limits,
                category: config.category(&code),
                departments: &config.active_departments,
            };
            let dispatched = case::decide(
                &decision.case,
                &Command::Dispatch { department },
                &Actor::system("intake"),
                at_us,
                &rules,
            )?;
            // One command, one version step: the automatic dispatch rides on the registration.
            let version = decision.case.version;
            decision.events.extend(dispatched.events);
            decision.case = dispatched.case;
            decision.case.version = version;
        }
        Routing::Department { department, .. } => {
            decision.case.queue_reason =
                Some(format!("the rule's department {department} is inactive"));
        }
        Routing::Queue { reason, candidates } => {
            decision.case.queue_reason = Some(reason);
            decision.case.candidates = candidates;
        }
    }
    Ok(())
}

/// Whether a state still takes further reports.
pub fn merges_into(state: CaseState) -> bool {
    state.is_open()
}
