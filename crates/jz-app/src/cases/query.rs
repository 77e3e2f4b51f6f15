//! Reading cases: lists and queues scoped to the actor's territory and department, one case with
//! its timeline and reports (without personal data), the reporters' personal data (audited), and
//! photos.

use jz_domain::access::{Actor, Role};
use jz_domain::audit::AuditRecord;
use jz_domain::case::{Case, CaseState};
use jz_domain::division::{CodeShape, DivisionCode, DivisionLevel};
use jz_store::{Arg, Change, Statement};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{CaseError, Cases, decode_case, load_case, new_id};

/// The work queues of the case desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// Reported, waiting to be confirmed and registered.
    ToRegister,
    /// Registered, waiting for a dispatcher.
    ToDispatch,
    /// Dispatched to a department and not yet handled.
    ToHandle,
    /// Handled, waiting for the on-site check.
    ToVerify,
    /// Verified, waiting to be closed.
    ToClose,
    /// Past a stage's deadline.
    Overdue,
    /// A postponement request waits for a decision.
    Postponements,
    /// Closed with reporters not yet asked by a return call.
    ReturnCalls,
    /// A dissatisfied rating of objective work waits for review.
    Reviews,
}

impl Queue {
    pub const ALL: [(&'static str, Queue); 9] = [
        ("to_register", Queue::ToRegister),
        ("to_dispatch", Queue::ToDispatch),
        ("to_handle", Queue::ToHandle),
        ("to_verify", Queue::ToVerify),
        ("to_close", Queue::ToClose),
        ("overdue", Queue::Overdue),
        ("postponements", Queue::Postponements),
        ("return_calls", Queue::ReturnCalls),
        ("reviews", Queue::Reviews),
    ];

    pub fn parse(text: &str) -> Result<Queue, CaseError> {
        Queue::ALL
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, q)| *q)
            .ok_or_else(|| {
                let names: Vec<&str> = Queue::ALL.iter().map(|(n, _)| *n).collect();
                CaseError::Invalid(format!(
                    "queue: unknown queue `{text}`; queues are {}",
                    names.join(", ")
                ))
            })
    }
}

/// Filters of a case list; all optional.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub states: Vec<CaseState>,
    pub queue: Option<Queue>,
    pub department: Option<String>,
    pub division: Option<DivisionCode>,
    pub grid: Option<String>,
    pub category: Option<String>,
    pub channel: Option<String>,
    pub overdue: Option<bool>,
    pub reported_since_us: Option<i64>,
    pub reported_until_us: Option<i64>,
    /// Only cases with an id before this one (the next page of a list, newest first).
    pub before: Option<String>,
    pub limit: Option<i64>,
}

/// The maximum page size of a case list.
pub const MAX_PAGE: i64 = 500;

/// The significant prefix of a division code (its non-zero segments).
pub fn code_prefix(code: &DivisionCode) -> String {
    let digits = match code.implied_level() {
        CodeShape::Province => 2,
        CodeShape::Prefecture => 4,
        CodeShape::County => 6,
        CodeShape::Town => 9,
        CodeShape::Village => 12,
    };
    code.as_str()[..digits].to_owned()
}

/// One report of a case, without personal data.
#[derive(Debug, Clone, Serialize)]
pub struct ReportView {
    pub id: String,
    pub channel: String,
    pub description: String,
    pub lon: f64,
    pub lat: f64,
    pub datum: String,
    pub input_lon: f64,
    pub input_lat: f64,
    pub address: Option<String>,
    pub reported_at_us: i64,
    pub classification: Option<Value>,
    pub rating: Option<String>,
    pub rating_comment: Option<String>,
    pub rating_round: Option<i64>,
}

/// One timeline entry.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub id: String,
    pub kind: String,
    pub at_us: i64,
    pub actor: String,
    pub role: String,
    pub from: Option<String>,
    pub to: String,
    pub note: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub photos: Vec<String>,
    pub detail: Value,
}

/// A reporter's personal data (never on public endpoints; every read is audited).
#[derive(Debug, Clone, Serialize)]
pub struct ReporterView {
    pub report_id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub account: Option<String>,
    pub device: Option<String>,
    pub submitted_by: String,
}

/// A stored photo.
#[derive(Debug, Clone)]
pub struct Photo {
    pub id: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub case_id: Option<String>,
    pub uploaded_by: String,
}

/// Largest photo accepted, in bytes.
pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;

/// The content type a photo's bytes show, if it is a supported image.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

impl Cases {
    /// Cases the actor may see, newest first.
    pub async fn list(&self, actor: &Actor, filter: &CaseFilter) -> Result<Vec<Case>, CaseError> {
        let limit = filter.limit.unwrap_or(100);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(CaseError::Invalid(format!(
                "limit: between 1 and {MAX_PAGE}"
            )));
        }
        let mut sql = String::from(concat!(
            "SELECT data, ",
            super::reporters_of!("case_file"),
            " FROM case_file WHERE 1 = 1"
        ));
        let mut args: Vec<String> = Vec::new();
        let mut int_args: Vec<(usize, i64)> = Vec::new();
        let mut push = |sql: &mut String, clause: &str, value: String| {
            args.push(value);
            sql.push_str(&clause.replace('?', &format!("${}", args.len())));
        };
        // Below the city, lists read their district's run of the district index, newest first,
        // and filter communities by code prefix as a range (':' sorts after '9') on the index.
        if let Some(territory) = &actor.territory {
            if let Some(district) = self.district_of(territory) {
                push(&mut sql, " AND district_code = ?", district);
            }
            push(&mut sql, " AND community_code >= ?", code_prefix(territory));
            push(
                &mut sql,
                " AND community_code < ?",
                format!("{}:", code_prefix(territory)),
            );
        }
        match actor.role {
            Role::Handler => {
                let department = actor.department.clone().unwrap_or_default();
                push(&mut sql, " AND (department_id = ?", department.clone());
                push(
                    &mut sql,
                    " OR data LIKE ?)",
                    format!(
                        "%\"department\":\"{}\",\"reported_at_us\"%",
                        department.replace(['%', '_', '"'], "")
                    ),
                );
            }
            Role::Citizen | Role::Volunteer | Role::CommunityWorker => push(
                &mut sql,
                " AND id IN (SELECT case_id FROM case_report WHERE submitted_by = ?)",
                actor.id.clone(),
            ),
            _ => {}
        }
        if !filter.states.is_empty() {
            let list: Vec<String> = filter
                .states
                .iter()
                .map(|s| format!("'{}'", s.as_str()))
                .collect();
            sql.push_str(&format!(" AND state IN ({})", list.join(", ")));
        }
        if let Some(queue) = filter.queue {
            sql.push_str(match queue {
                Queue::ToRegister => " AND state = 'reported'",
                Queue::ToDispatch => " AND state = 'registered'",
                Queue::ToHandle => " AND state IN ('dispatched', 'accepted', 'handling')",
                Queue::ToVerify => " AND state = 'handled'",
                Queue::ToClose => " AND state = 'verified'",
                Queue::Overdue => " AND overdue = 1 AND state NOT IN ('rejected', 'closed', 'rated', 'cancelled', 'suspended')",
                Queue::Postponements => " AND data LIKE '%\"pending_postponement\":{%'",
                Queue::ReturnCalls => " AND state = 'closed'",
                Queue::Reviews => " AND data LIKE '%\"review_requested\":true%'",
            });
        }
        if let Some(department) = &filter.department {
            push(&mut sql, " AND department_id = ?", department.clone());
        }
        if let Some(division) = &filter.division {
            if let Some(district) = self.district_of(division) {
                push(&mut sql, " AND district_code = ?", district);
            }
            push(&mut sql, " AND community_code >= ?", code_prefix(division));
            push(
                &mut sql,
                " AND community_code < ?",
                format!("{}:", code_prefix(division)),
            );
        }
        if let Some(grid) = &filter.grid {
            push(&mut sql, " AND grid_code = ?", grid.clone());
        }
        if let Some(category) = &filter.category {
            push(&mut sql, " AND category_code = ?", category.clone());
        }
        if let Some(channel) = &filter.channel {
            push(&mut sql, " AND channel = ?", channel.clone());
        }
        if let Some(overdue) = filter.overdue {
            sql.push_str(if overdue {
                " AND overdue = 1"
            } else {
                " AND overdue = 0"
            });
        }
        if let Some(before) = &filter.before {
            push(&mut sql, " AND id < ?", before.clone());
        }
        let text_args = args.len();
        if let Some(since) = filter.reported_since_us {
            int_args.push((text_args + int_args.len() + 1, since));
            sql.push_str(&format!(
                " AND reported_at_us >= ${}",
                text_args + int_args.len()
            ));
        }
        if let Some(until) = filter.reported_until_us {
            int_args.push((text_args + int_args.len() + 1, until));
            sql.push_str(&format!(
                " AND reported_at_us < ${}",
                text_args + int_args.len()
            ));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {limit}"));
        // Only fixed fragments and $N placeholders are spliced in; every value is bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for arg in &args {
            query = query.bind(arg.as_str());
        }
        for (_, value) in &int_args {
            query = query.bind(*value);
        }
        let rows = query.fetch_all(self.store.reader()).await?;
        rows.iter()
            .map(|row| decode_case(&row.try_get::<String, _>(0)?, row.try_get(1)?))
            .collect()
    }

    /// The district a division lies in (itself for a district): every case under the division
    /// was located in it. `None` for the city and for codes the city model does not hold.
    fn district_of(&self, code: &DivisionCode) -> Option<String> {
        self.city
            .current()
            .path(code)
            .into_iter()
            .find(|entry| entry.level == DivisionLevel::District)
            .map(|entry| entry.code.as_str().to_owned())
    }

    /// One case, if the actor may see it (otherwise: not found, so ids do not leak).
    pub async fn get(&self, actor: &Actor, id: &str) -> Result<Case, CaseError> {
        let case = load_case(&self.store, id)
            .await?
            .ok_or_else(|| CaseError::NotFound(format!("case {id}")))?;
        if !self.may_see(actor, &case).await? {
            return Err(CaseError::NotFound(format!("case {id}")));
        }
        Ok(case)
    }

    pub(crate) async fn may_see(&self, actor: &Actor, case: &Case) -> Result<bool, CaseError> {
        if !actor.covers(&case.place.community) {
            return Ok(false);
        }
        Ok(match actor.role {
            Role::Handler => {
                let mine = actor.department.as_deref();
                case.department.as_deref() == mine
                    || case.whistle.as_ref().is_some_and(|w| {
                        w.calls.iter().any(|c| Some(c.department.as_str()) == mine)
                    })
            }
            // People who report for themselves see the cases they reported.
            Role::Citizen | Role::Volunteer | Role::CommunityWorker => self
                .store
                .read_row(
                    "SELECT 1 FROM case_report WHERE case_id = $1 AND submitted_by = $2",
                    &[Arg::from(case.id.as_str()), Arg::from(actor.id.as_str())],
                )
                .await?
                .is_some(),
            _ => true,
        })
    }

    /// The case's timeline, oldest first.
    pub async fn timeline(&self, actor: &Actor, id: &str) -> Result<Vec<EventView>, CaseError> {
        self.get(actor, id).await?;
        let rows = sqlx::query(
            "SELECT id, kind, at_us, actor, role, from_state, to_state, note, lon, lat, photos, detail FROM case_step WHERE case_id = $1 ORDER BY at_us, id",
        )
        .bind(id)
        .fetch_all(self.store.reader())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(EventView {
                    id: row.try_get(0)?,
                    kind: row.try_get(1)?,
                    at_us: row.try_get(2)?,
                    actor: row.try_get(3)?,
                    role: row.try_get(4)?,
                    from: row.try_get(5)?,
                    to: row.try_get(6)?,
                    note: row.try_get(7)?,
                    lon: row.try_get(8)?,
                    lat: row.try_get(9)?,
                    photos: row
                        .try_get::<Option<String>, _>(10)?
                        .and_then(|p| serde_json::from_str(&p).ok())
                        .unwrap_or_default(),
                    detail: serde_json::from_str(&row.try_get::<String, _>(11)?)
                        .unwrap_or(Value::Null),
                })
            })
            .collect()
    }

    /// The case's reports, without personal data.
    pub async fn reports(&self, actor: &Actor, id: &str) -> Result<Vec<ReportView>, CaseError> {
        self.get(actor, id).await?;
        let rows = sqlx::query(
            "SELECT id, channel, description, lon, lat, datum, input_lon, input_lat, address, reported_at_us, classification, rating, rating_comment, rating_round
             FROM case_report WHERE case_id = $1 ORDER BY reported_at_us, id",
        )
        .bind(id)
        .fetch_all(self.store.reader())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ReportView {
                    id: row.try_get(0)?,
                    channel: row.try_get(1)?,
                    description: row.try_get(2)?,
                    lon: row.try_get(3)?,
                    lat: row.try_get(4)?,
                    datum: row.try_get(5)?,
                    input_lon: row.try_get(6)?,
                    input_lat: row.try_get(7)?,
                    address: row.try_get(8)?,
                    reported_at_us: row.try_get(9)?,
                    classification: row
                        .try_get::<Option<String>, _>(10)?
                        .and_then(|c| serde_json::from_str(&c).ok()),
                    rating: row.try_get(11)?,
                    rating_comment: row.try_get(12)?,
                    rating_round: row.try_get(13)?,
                })
            })
            .collect()
    }

    /// The reporters' personal data, for operators who must call them back. The read itself is
    /// written to the audit trail before the data is returned.
    pub async fn reporters(
        &self,
        actor: &Actor,
        id: &str,
        origin: &str,
        at_us: i64,
    ) -> Result<Vec<ReporterView>, CaseError> {
        if !(actor.role.is_operator()
            || matches!(actor.role, Role::HotlineOperator | Role::Dispatcher))
        {
            return Err(CaseError::Forbidden(format!(
                "{} may not read reporters' personal data",
                actor.role.with_article()
            )));
        }
        self.get(actor, id).await?;
        let change = Change::new().audit(AuditRecord {
            at_us,
            actor: actor.id.clone(),
            actor_role: actor.role.as_str().into(),
            action: "case.reporters_read".into(),
            subject_kind: "case".into(),
            subject_id: id.into(),
            origin: origin.into(),
            before: None,
            after: None,
        });
        self.store.write(change).await?;
        let rows = sqlx::query(
            "SELECT id, reporter_name, reporter_phone, reporter_email, reporter_account, device_id, submitted_by FROM case_report WHERE case_id = $1 ORDER BY reported_at_us, id",
        )
        .bind(id)
        .fetch_all(self.store.reader())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ReporterView {
                    report_id: row.try_get(0)?,
                    name: row.try_get(1)?,
                    phone: row.try_get(2)?,
                    email: row.try_get(3)?,
                    account: row.try_get(4)?,
                    device: row.try_get(5)?,
                    submitted_by: row.try_get(6)?,
                })
            })
            .collect()
    }

    /// Stores a photo (JPEG, PNG or WebP, at most 5 MB), not yet attached to a case.
    pub async fn upload_photo(
        &self,
        actor: &Actor,
        declared_type: Option<&str>,
        bytes: Vec<u8>,
        origin: &str,
        at_us: i64,
    ) -> Result<String, CaseError> {
        if bytes.is_empty() {
            return Err(CaseError::Invalid("photo: the body is empty".into()));
        }
        if bytes.len() > MAX_PHOTO_BYTES {
            return Err(CaseError::Invalid(format!(
                "photo: {} bytes is more than the {MAX_PHOTO_BYTES}-byte limit",
                bytes.len()
            )));
        }
        let sniffed = sniff_image(&bytes)
            .ok_or_else(|| CaseError::Invalid("photo: not a JPEG, PNG or WebP image".into()))?;
        if let Some(declared) = declared_type
            && declared != sniffed
        {
            return Err(CaseError::Invalid(format!(
                "photo: declared as {declared} but the bytes are {sniffed}"
            )));
        }
        let id = new_id();
        let digest = hex::encode(Sha256::digest(&bytes));
        let size = bytes.len() as i64;
        let change = Change::new()
            .statement(
                Statement::new(
                    "INSERT INTO photo (id, case_id, content_type, size, sha256, bytes, uploaded_by, at_us) VALUES ($1, NULL, $2, $3, $4, $5, $6, $7)",
                )
                .bind(id.clone())
                .bind(sniffed)
                .bind(size)
                .bind(digest.clone())
                .bind(bytes)
                .bind(actor.id.clone())
                .bind(at_us),
            )
            .audit(AuditRecord {
                at_us,
                actor: actor.id.clone(),
                actor_role: actor.role.as_str().into(),
                action: "photo.upload".into(),
                subject_kind: "photo".into(),
                subject_id: id.clone(),
                origin: origin.into(),
                before: None,
                after: Some(serde_json::json!({ "content_type": sniffed, "size": size, "sha256": digest }).to_string()),
            });
        self.store.write(change).await?;
        Ok(id)
    }

    /// A photo, if the actor may see it: its uploader, or anyone who may see its case.
    pub async fn photo(&self, actor: &Actor, id: &str) -> Result<Photo, CaseError> {
        let row = sqlx::query(
            "SELECT id, content_type, bytes, case_id, uploaded_by FROM photo WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.store.reader())
        .await?
        .ok_or_else(|| CaseError::NotFound(format!("photo {id}")))?;
        let photo = Photo {
            id: row.try_get(0)?,
            content_type: row.try_get(1)?,
            bytes: row.try_get(2)?,
            case_id: row.try_get(3)?,
            uploaded_by: row.try_get(4)?,
        };
        let visible = photo.uploaded_by == actor.id
            || match &photo.case_id {
                Some(case_id) => self.get(actor, case_id).await.is_ok(),
                None => false,
            };
        if !visible {
            return Err(CaseError::NotFound(format!("photo {id}")));
        }
        Ok(photo)
    }
}
