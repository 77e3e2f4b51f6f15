//! Open311 GeoReport v2 over the case loop: the service catalogue (which categories are offered
//! as Open311 services, with group, keywords, description and attribute definitions), the
//! validation of attribute answers by datatype, the mapping of the case loop's states to
//! Open311's `open`/`closed` and to FixMyStreet's extended statuses, the public lists of requests
//! and request updates, and the one write Open311 adds to a case: a note on its timeline.
//!
//! Reports posted through Open311 enter the same intake as every other channel
//! ([`crate::cases::Cases::intake`]); this module only keeps what Open311 adds (attribute
//! answers, media URLs given by the client, the client's update ids). Nothing here returns a
//! reporter's personal data or an actor's identity: every view is public.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jz_domain::access::Actor;
use jz_domain::audit::AuditRecord;
use jz_domain::case::{Case, CaseState};
use jz_domain::category::{Category, CategoryKind};
use jz_store::{Change, Statement, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row;

use crate::cases::config::CaseConfig;
use crate::cases::{CaseError, Cases, decode_case, load_case, new_id};

/// The longest span `start_date`…`end_date` of a request or update list (the spec's 90 days).
pub const MAX_SPAN_US: i64 = 90 * 24 * 3600 * 1_000_000;
/// Requests (or updates) per page by default, and at most.
pub const MAX_PAGE_SIZE: i64 = 1000;
/// Longest one-line (`string`) attribute answer, in characters.
pub const MAX_STRING_CHARS: usize = 200;
/// Longest multi-line (`text`) attribute answer or update description, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Longest media URL, in characters.
pub const MAX_URL_CHARS: usize = 2000;

// ---------------------------------------------------------------------------------------------
// The service catalogue.

/// The datatypes of Open311 attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Datatype {
    /// One line of text.
    String,
    /// A number (integer or decimal).
    Number,
    /// A W3C datetime with its zone.
    Datetime,
    /// Several lines of text.
    Text,
    /// One key of `values`.
    Singlevaluelist,
    /// Any number of keys of `values`.
    Multivaluelist,
}

impl Datatype {
    pub const ALL: [Datatype; 6] = [
        Datatype::String,
        Datatype::Number,
        Datatype::Datetime,
        Datatype::Text,
        Datatype::Singlevaluelist,
        Datatype::Multivaluelist,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Datatype::String => "string",
            Datatype::Number => "number",
            Datatype::Datetime => "datetime",
            Datatype::Text => "text",
            Datatype::Singlevaluelist => "singlevaluelist",
            Datatype::Multivaluelist => "multivaluelist",
        }
    }

    pub fn is_list(self) -> bool {
        matches!(self, Datatype::Singlevaluelist | Datatype::Multivaluelist)
    }
}

/// One choice of a list attribute: `key` is submitted, `name` is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeValue {
    pub key: String,
    pub name: String,
}

/// One question of a service definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeDefinition {
    pub code: String,
    /// False: informational only (its `description` is shown, nothing is asked).
    pub variable: bool,
    pub datatype: Datatype,
    pub required: bool,
    pub datatype_description: Option<String>,
    /// Position in the form, from 1, unique within the service.
    pub order: u32,
    /// The question or instruction shown to the user.
    pub description: String,
    #[serde(default)]
    pub values: Vec<AttributeValue>,
}

/// How a category is offered through Open311 (one row of `open311_service`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSettings {
    /// The category's code, which is the Open311 `service_code`.
    pub category_code: String,
    /// Whether the service is listed and takes requests.
    pub exposed: bool,
    /// Position in the service list.
    pub order: i64,
    pub group: String,
    pub keywords: Vec<String>,
    pub description: String,
    pub attributes: Vec<AttributeDefinition>,
}

/// A service as clients see it: an exposed, active category with its Open311 settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub code: String,
    pub name: String,
    pub group: String,
    pub keywords: Vec<String>,
    pub description: String,
    pub attributes: Vec<AttributeDefinition>,
}

impl Service {
    /// Whether clients must fetch the service definition (exactly when it asks something).
    pub fn metadata(&self) -> bool {
        !self.attributes.is_empty()
    }
}

/// Problems with service settings, each naming its field.
pub fn service_problems(settings: &ServiceSettings, config: &CaseConfig) -> Vec<String> {
    let mut problems = Vec::new();
    if config.category(&settings.category_code).is_none() {
        problems.push(format!(
            "category_code: unknown category `{}`",
            settings.category_code
        ));
    }
    if settings.group.trim().is_empty() || settings.group.chars().count() > 100 {
        problems.push("group: 1 to 100 characters".into());
    }
    if settings.description.chars().count() > 1000 {
        problems.push("description: at most 1000 characters".into());
    }
    if settings
        .keywords
        .iter()
        .any(|k| k.trim().is_empty() || k.contains(','))
    {
        problems.push("keywords: each keyword is non-empty and has no comma".into());
    }
    let mut codes = Vec::new();
    let mut orders = Vec::new();
    for (index, attribute) in settings.attributes.iter().enumerate() {
        let field = format!("attributes[{index}]");
        let code_ok = !attribute.code.is_empty()
            && attribute.code.len() <= 64
            && attribute
                .code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        if !code_ok {
            problems.push(format!("{field}.code: 1 to 64 letters, digits, `_` or `-`"));
        }
        if codes.contains(&attribute.code) {
            problems.push(format!("{field}.code: `{}` twice", attribute.code));
        }
        codes.push(attribute.code.clone());
        if attribute.order == 0 || orders.contains(&attribute.order) {
            problems.push(format!(
                "{field}.order: a positive number, unique within the service"
            ));
        }
        orders.push(attribute.order);
        if attribute.description.trim().is_empty() {
            problems.push(format!("{field}.description: must not be empty"));
        }
        if !attribute.variable && attribute.required {
            problems.push(format!(
                "{field}.required: an informational attribute (variable false) cannot be required"
            ));
        }
        if attribute.datatype.is_list() {
            if attribute.values.is_empty() {
                problems.push(format!("{field}.values: a list needs at least one value"));
            }
            let mut keys: Vec<&str> = attribute.values.iter().map(|v| v.key.as_str()).collect();
            keys.sort_unstable();
            if keys.windows(2).any(|w| w[0] == w[1]) || keys.iter().any(|k| k.is_empty()) {
                problems.push(format!("{field}.values: keys are non-empty and unique"));
            }
        } else if !attribute.values.is_empty() {
            problems.push(format!(
                "{field}.values: only singlevaluelist and multivaluelist have values"
            ));
        }
    }
    problems
}

/// Categories offered through Open311 on first use: the matters citizens report most (litter,
/// roads, lights, noise, parking, advertising, building sites, street order) and every hotline
/// request type.
const DEFAULT_SERVICES: &[&str] = &[
    "06010", "06011", "06042", "06012", "06013", "06036", "06034", "06027", "06028", "06029",
    "06030", "01023", "01037", "02014", "02017", "03001", "03005", "04002", "07001", "08001",
    "08004", "09005", "09006", "09009", "09010", "09011", "09012", "10001",
];

fn value(key: &str, name: &str) -> AttributeValue {
    AttributeValue {
        key: key.into(),
        name: name.into(),
    }
}

fn question(
    code: &str,
    order: u32,
    datatype: Datatype,
    required: bool,
    description: &str,
    hint: Option<&str>,
    values: Vec<AttributeValue>,
) -> AttributeDefinition {
    AttributeDefinition {
        code: code.into(),
        variable: true,
        datatype,
        required,
        datatype_description: hint.map(str::to_owned),
        order,
        description: description.into(),
        values,
    }
}

/// The attribute definitions shipped with the default catalogue; between them they use all six
/// datatypes and an informational attribute.
fn default_attributes(code: &str) -> Vec<AttributeDefinition> {
    use Datatype::*;
    match code {
        // Exposed garbage: how much, what kind, and a safety note.
        "06010" => vec![
            question(
                "volume",
                1,
                Singlevaluelist,
                true,
                "垃圾量有多少？",
                None,
                vec![
                    value("small", "少量（一袋以内）"),
                    value("medium", "中等（一车以内）"),
                    value("large", "大量（一车以上）"),
                ],
            ),
            question(
                "kinds",
                2,
                Multivaluelist,
                false,
                "是哪些垃圾？（可多选）",
                None,
                vec![
                    value("household", "生活垃圾"),
                    value("construction", "建筑垃圾"),
                    value("bulky", "大件垃圾"),
                    value("hazardous", "有害垃圾"),
                ],
            ),
            AttributeDefinition {
                code: "safety".into(),
                variable: false,
                datatype: String,
                required: false,
                datatype_description: None,
                order: 3,
                description: "请勿自行翻动或焚烧垃圾，注意安全。".into(),
                values: Vec::new(),
            },
        ],
        // Noise: its source, since when, how loud, and anything else.
        "06028" => vec![
            question(
                "source",
                1,
                Singlevaluelist,
                true,
                "噪声来自哪里？",
                None,
                vec![
                    value("construction", "施工"),
                    value("business", "商业经营"),
                    value("traffic", "交通"),
                    value("neighbourhood", "社会生活"),
                    value("other", "其他"),
                ],
            ),
            question(
                "started_at",
                2,
                Datetime,
                false,
                "噪声从什么时候开始？",
                Some("W3C 日期时间，如 2026-10-08T22:30:00+08:00"),
                Vec::new(),
            ),
            question(
                "decibels",
                3,
                Number,
                false,
                "测得的分贝数（如有）",
                Some("数字，如 75"),
                Vec::new(),
            ),
            question("details", 4, Text, false, "补充说明", None, Vec::new()),
        ],
        // Street lights: which pole and what is wrong.
        "01037" => vec![
            question(
                "pole_number",
                1,
                String,
                false,
                "灯杆编号（灯杆铭牌上的编号）",
                Some("一行文字"),
                Vec::new(),
            ),
            question(
                "fault",
                2,
                Singlevaluelist,
                true,
                "路灯有什么问题？",
                None,
                vec![
                    value("off", "不亮"),
                    value("on_by_day", "白天常亮"),
                    value("flickering", "闪烁"),
                    value("damaged", "灯杆倾斜或损坏"),
                ],
            ),
        ],
        // Parked cars: how many, what they block, since when.
        "09009" => vec![
            question(
                "vehicles",
                1,
                Number,
                false,
                "车辆数量",
                Some("数字"),
                Vec::new(),
            ),
            question(
                "blocking",
                2,
                Multivaluelist,
                false,
                "占用了哪里？（可多选）",
                None,
                vec![
                    value("sidewalk", "人行道"),
                    value("bike_lane", "非机动车道"),
                    value("fire_lane", "消防通道"),
                    value("entrance", "出入口"),
                ],
            ),
            question(
                "noticed_at",
                3,
                Datetime,
                false,
                "发现时间",
                Some("W3C 日期时间，如 2026-10-08T08:00:00+08:00"),
                Vec::new(),
            ),
        ],
        _ => Vec::new(),
    }
}

/// Keywords from a category's name: its parts (split at `、`, parenthesised variants dropped)
/// and its major class.
pub fn keywords_of(category: &Category) -> Vec<String> {
    let mut base = String::new();
    let mut depth = 0;
    for c in category.name.chars() {
        match c {
            '（' | '(' => depth += 1,
            '）' | ')' => depth -= 1,
            _ if depth == 0 => base.push(c),
            _ => {}
        }
    }
    let mut keywords: Vec<String> = base
        .split(['、', ',', '，'])
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    let major = category.major_name.trim_end_matches('类').to_owned();
    if !major.is_empty() && !keywords.contains(&major) {
        keywords.push(major);
    }
    keywords
}

/// The default Open311 settings of a category.
pub fn default_settings(category: &Category, order: i64) -> ServiceSettings {
    let description = match category.kind {
        CategoryKind::Matter => format!(
            "城市管理{}事项：{}（GB/T 47678.5 代码 {}）",
            category.major_name.trim_end_matches('类'),
            category.name,
            category.code
        ),
        CategoryKind::Hotline => {
            format!("12345 热线{}类诉求：{}", category.major_name, category.name)
        }
    };
    ServiceSettings {
        category_code: category.code.clone(),
        exposed: true,
        order,
        group: category.major_name.clone(),
        keywords: keywords_of(category),
        description,
        attributes: default_attributes(&category.code),
    }
}

fn service_statement(settings: &ServiceSettings, at_us: i64, upsert: bool) -> Statement {
    let sql = if upsert {
        "INSERT INTO open311_service (category_code, exposed, list_order, group_name, keywords, description, attributes, version, changed_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8)
         ON CONFLICT (category_code) DO UPDATE SET exposed = excluded.exposed, list_order = excluded.list_order,
           group_name = excluded.group_name, keywords = excluded.keywords, description = excluded.description,
           attributes = excluded.attributes, version = open311_service.version + 1, changed_at_us = excluded.changed_at_us"
    } else {
        "INSERT INTO open311_service (category_code, exposed, list_order, group_name, keywords, description, attributes, version, changed_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8) ON CONFLICT (category_code) DO NOTHING"
    };
    Statement::new(sql)
        .bind(settings.category_code.clone())
        .bind(settings.exposed)
        .bind(settings.order)
        .bind(settings.group.clone())
        .bind(settings.keywords.join(","))
        .bind(settings.description.clone())
        .bind(serde_json::to_string(&settings.attributes).expect("attributes serialize"))
        .bind(at_us)
}

/// Seeds the default catalogue when no category has Open311 settings yet. Returns how many
/// services were added.
pub async fn ensure_seeded(
    store: &Store,
    config: &CaseConfig,
    at_us: i64,
) -> Result<usize, CaseError> {
    let stored: i64 = sqlx::query("SELECT COUNT(*) FROM open311_service")
        .fetch_one(store.reader())
        .await?
        .try_get(0)?;
    if stored > 0 {
        return Ok(0);
    }
    let mut defaults: Vec<ServiceSettings> = Vec::new();
    for code in DEFAULT_SERVICES {
        if let Some(category) = config.category(code).filter(|c| c.active) {
            defaults.push(default_settings(category, defaults.len() as i64 + 1));
        }
    }
    let mut hotline: Vec<&Category> = config
        .categories
        .values()
        .filter(|c| c.kind == CategoryKind::Hotline && c.active)
        .collect();
    hotline.sort_by(|a, b| a.code.cmp(&b.code));
    for category in hotline {
        defaults.push(default_settings(category, defaults.len() as i64 + 1));
    }
    let mut change = Change::new();
    for settings in &defaults {
        change = change.statement(service_statement(settings, at_us, false));
    }
    let codes: Vec<&str> = defaults.iter().map(|s| s.category_code.as_str()).collect();
    change = change.audit(AuditRecord {
        at_us,
        actor: "system:seed".into(),
        actor_role: "system".into(),
        action: "open311.services_seed".into(),
        subject_kind: "open311_service".into(),
        subject_id: "catalogue".into(),
        origin: "jingzhi".into(),
        before: None,
        after: Some(json!({ "services": codes }).to_string()),
    });
    store.write(change).await?;
    Ok(defaults.len())
}

/// The Open311 settings of every category that has them (exposed or not), by list order.
pub async fn service_settings(store: &Store) -> Result<Vec<ServiceSettings>, CaseError> {
    let rows = sqlx::query(
        "SELECT category_code, exposed, list_order, group_name, keywords, description, attributes
         FROM open311_service ORDER BY list_order, category_code",
    )
    .fetch_all(store.reader())
    .await?;
    rows.iter()
        .map(|row| {
            let keywords: String = row.try_get(4)?;
            let attributes: String = row.try_get(6)?;
            Ok(ServiceSettings {
                category_code: row.try_get(0)?,
                exposed: row.try_get::<i64, _>(1)? != 0,
                order: row.try_get(2)?,
                group: row.try_get(3)?,
                keywords: keywords
                    .split(',')
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned)
                    .collect(),
                description: row.try_get(5)?,
                attributes: serde_json::from_str(&attributes).map_err(|e| {
                    CaseError::Store(StoreError::Database(
                        format!("stored Open311 attributes are unreadable: {e}").into(),
                    ))
                })?,
            })
        })
        .collect()
}

/// The services clients see: exposed settings of active categories, seeding the default
/// catalogue on first use.
pub async fn services(cases: &Cases, at_us: i64) -> Result<Vec<Service>, CaseError> {
    let config = cases.config.current();
    ensure_seeded(&cases.store, &config, at_us).await?;
    Ok(service_settings(&cases.store)
        .await?
        .into_iter()
        .filter(|s| s.exposed)
        .filter_map(|s| {
            let category = config.category(&s.category_code).filter(|c| c.active)?;
            Some(Service {
                code: s.category_code,
                name: category.name.clone(),
                group: s.group,
                keywords: s.keywords,
                description: s.description,
                attributes: s.attributes,
            })
        })
        .collect())
}

/// When the catalogue (or a category it offers) last changed, for discovery's `changeset`.
pub async fn catalogue_changed_at_us(store: &Store) -> Result<Option<i64>, CaseError> {
    Ok(
        sqlx::query("SELECT MAX(changed_at_us) FROM open311_service")
            .fetch_one(store.reader())
            .await?
            .try_get::<Option<i64>, _>(0)?,
    )
}

/// Adds or replaces how a category is offered through Open311 (an admin's edit; audited).
pub async fn put_service(
    cases: &Cases,
    by: &crate::city::Actor,
    settings: ServiceSettings,
) -> Result<ServiceSettings, CaseError> {
    let config = cases.config.current();
    ensure_seeded(&cases.store, &config, by.at_us).await?;
    let problems = service_problems(&settings, &config);
    if !problems.is_empty() {
        return Err(CaseError::Invalid(problems.join("; ")));
    }
    let before = service_settings(&cases.store)
        .await?
        .into_iter()
        .find(|s| s.category_code == settings.category_code);
    let change = Change::new()
        .statement(service_statement(&settings, by.at_us, true))
        .audit(by.audit(
            "admin",
            "open311.service_put",
            "open311_service",
            settings.category_code.clone(),
            before.and_then(|b| serde_json::to_string(&b).ok()),
            serde_json::to_string(&settings).ok(),
        ));
    cases.store.write(change).await?;
    Ok(settings)
}

// ---------------------------------------------------------------------------------------------
// Attribute answers.

/// A validated answer to one attribute (list answers hold keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub code: String,
    pub values: Vec<String>,
}

/// A problem with one submitted field: its Open311 name and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

impl FieldProblem {
    fn new(field: &str, message: impl Into<String>) -> FieldProblem {
        FieldProblem {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Checks the submitted answers (`attribute[CODE]` → values; empty values count as absent)
/// against a service's definition: required attributes present, one value for every type but
/// `multivaluelist`, numbers numeric, datetimes W3C (normalised to the city's offset), list keys
/// among the values. Informational attributes and unknown codes are ignored. Every bad
/// attribute gives one problem.
pub fn validate_answers(
    definitions: &[AttributeDefinition],
    submitted: &BTreeMap<String, Vec<String>>,
    time_zone: &TimeZone,
) -> Result<Vec<Answer>, Vec<FieldProblem>> {
    let mut answers = Vec::new();
    let mut problems = Vec::new();
    let mut ordered: Vec<&AttributeDefinition> = definitions.iter().collect();
    ordered.sort_by_key(|d| d.order);
    for definition in ordered.into_iter().filter(|d| d.variable) {
        let field = format!("attribute[{}]", definition.code);
        let values: Vec<&String> = submitted
            .get(&definition.code)
            .map(|v| v.iter().filter(|v| !v.trim().is_empty()).collect())
            .unwrap_or_default();
        if values.is_empty() {
            if definition.required {
                problems.push(FieldProblem::new(
                    &field,
                    format!("required ({})", definition.description),
                ));
            }
            continue;
        }
        if definition.datatype != Datatype::Multivaluelist && values.len() > 1 {
            problems.push(FieldProblem::new(
                &field,
                format!(
                    "a {} takes one value, got {}",
                    definition.datatype.as_str(),
                    values.len()
                ),
            ));
            continue;
        }
        let first = values[0];
        let checked: Result<Vec<String>, String> = match definition.datatype {
            Datatype::String => {
                if first.contains(['\n', '\r']) {
                    Err("a string is one line; use no line breaks".into())
                } else if first.chars().count() > MAX_STRING_CHARS {
                    Err(format!("at most {MAX_STRING_CHARS} characters"))
                } else {
                    Ok(vec![first.clone()])
                }
            }
            Datatype::Text => {
                if first.chars().count() > MAX_TEXT_CHARS {
                    Err(format!("at most {MAX_TEXT_CHARS} characters"))
                } else {
                    Ok(vec![first.clone()])
                }
            }
            Datatype::Number => match parse_number(first) {
                Some(_) => Ok(vec![first.trim().to_owned()]),
                None => Err(format!("`{first}` is not a number")),
            },
            Datatype::Datetime => parse_w3c(first, time_zone)
                .map(|us| vec![format_w3c(us, time_zone)])
                .map_err(|e| format!("`{first}` is not a W3C datetime ({e})")),
            Datatype::Singlevaluelist | Datatype::Multivaluelist => {
                let keys: Vec<&str> = definition.values.iter().map(|v| v.key.as_str()).collect();
                let mut chosen: Vec<String> = Vec::new();
                let mut unknown = None;
                for value in &values {
                    let value = value.trim();
                    if !keys.contains(&value) {
                        unknown = Some(value.to_owned());
                        break;
                    }
                    if !chosen.iter().any(|c| c == value) {
                        chosen.push(value.to_owned());
                    }
                }
                match unknown {
                    Some(value) => Err(format!(
                        "`{value}` is not one of the keys {}",
                        keys.join(", ")
                    )),
                    None => Ok(chosen),
                }
            }
        };
        match checked {
            Ok(values) => answers.push(Answer {
                code: definition.code.clone(),
                values,
            }),
            Err(message) => problems.push(FieldProblem::new(&field, message)),
        }
    }
    if problems.is_empty() {
        Ok(answers)
    } else {
        Err(problems)
    }
}

fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    let shape_ok = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    text.parse::<f64>()
        .ok()
        .filter(|n| shape_ok && n.is_finite())
}

// ---------------------------------------------------------------------------------------------
// Datetimes.

/// A W3C datetime (the ISO 8601 profile Open311 uses) in microseconds since the epoch.
///
/// Accepts `YYYY-MM-DD` (midnight in the city's zone) and `YYYY-MM-DDThh:mm[:ss[.s…]]TZD` with
/// `TZD` = `Z` or `±hh:mm`; a space where the `+` of the offset should be (a `+` a client left
/// unencoded in a query string, decoded as a space) is read as `+`. A time without a zone is
/// refused: the spec makes the zone mandatory.
pub fn parse_w3c(text: &str, time_zone: &TimeZone) -> Result<i64, String> {
    let mut text = text.trim().to_owned();
    let bytes = text.as_bytes();
    let date_shape = bytes.len() >= 10
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5..7].iter().all(u8::is_ascii_digit)
        && bytes[7] == b'-'
        && bytes[8..10].iter().all(u8::is_ascii_digit);
    if !date_shape {
        return Err("expected YYYY-MM-DD or YYYY-MM-DDThh:mm:ss±hh:mm".into());
    }
    if text.len() == 10 {
        let date: Date = text.parse().map_err(|e| format!("{e}"))?;
        return time_zone
            .to_ambiguous_timestamp(date.to_datetime(Time::midnight()))
            .compatible()
            .map(|t| t.as_microsecond())
            .map_err(|e| format!("{e}"));
    }
    if text.contains('[') {
        return Err("time zone annotations are not W3C; give an offset".into());
    }
    // `…T10:00:00 08:00`: the offset's `+` was decoded as a space.
    if let Some(at) = text.rfind(' ')
        && at > 10
    {
        let rest = &text[at + 1..];
        let offset_like = (rest.len() == 2 || rest.len() == 4 || rest.len() == 5)
            && rest.bytes().all(|b| b.is_ascii_digit() || b == b':');
        if offset_like {
            text.replace_range(at..at + 1, "+");
        }
    }
    let timestamp: Timestamp = text.parse().map_err(|e| {
        let e = format!("{e}");
        if e.contains("offset") {
            "a time needs its zone, e.g. +08:00 or Z".to_owned()
        } else {
            e
        }
    })?;
    Ok(timestamp.as_microsecond())
}

/// A W3C datetime in the city's zone, to the second, with its offset (`Z` for UTC).
pub fn format_w3c(at_us: i64, time_zone: &TimeZone) -> String {
    let timestamp = Timestamp::from_microsecond(at_us).unwrap_or(Timestamp::UNIX_EPOCH);
    let local = time_zone.to_datetime(timestamp);
    let offset = time_zone.to_offset(timestamp).seconds();
    let zone = if offset == 0 {
        "Z".to_owned()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let minutes = offset.abs() / 60;
        format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
        local.year(),
        local.month(),
        local.day(),
        local.hour(),
        local.minute(),
        local.second()
    )
}

/// A local time for people: `2026-10-08 17:00`.
fn local_minute(at_us: i64, time_zone: &TimeZone) -> String {
    let timestamp = Timestamp::from_microsecond(at_us).unwrap_or(Timestamp::UNIX_EPOCH);
    let local = time_zone.to_datetime(timestamp);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        local.year(),
        local.month(),
        local.day(),
        local.hour(),
        local.minute()
    )
}

// ---------------------------------------------------------------------------------------------
// Status mapping.

/// Open311's status: `closed` once the loop is finished (closed, rated, cancelled, rejected).
pub fn status(state: CaseState) -> &'static str {
    if state.is_open() { "open" } else { "closed" }
}

/// FixMyStreet's extended status of a state (upper case).
pub fn extended_status(state: CaseState) -> &'static str {
    match state {
        CaseState::Reported => "OPEN",
        CaseState::Registered => "INVESTIGATING",
        CaseState::Dispatched | CaseState::Accepted | CaseState::Suspended => "ACTION_SCHEDULED",
        CaseState::Handling | CaseState::Handled => "IN_PROGRESS",
        CaseState::Verified | CaseState::Closed | CaseState::Rated => "FIXED",
        CaseState::Rejected => "NO_FURTHER_ACTION",
        CaseState::Cancelled => "CANCELLED",
    }
}

/// The extended statuses a client may send with an update.
pub const EXTENDED_STATUSES: [&str; 13] = [
    "OPEN",
    "CLOSED",
    "FIXED",
    "IN_PROGRESS",
    "ACTION_SCHEDULED",
    "INVESTIGATING",
    "DUPLICATE",
    "NOT_COUNCILS_RESPONSIBILITY",
    "NO_FURTHER_ACTION",
    "INTERNAL_REFERRAL",
    "FOR_TRIAGE",
    "CANCELLED",
    "REOPEN",
];

/// Why the status is what it is: the fine state of the loop, or the reason a case was rejected
/// or cancelled.
pub fn status_notes(state: CaseState, reason: Option<&str>) -> String {
    let fine = match state {
        CaseState::Reported => "reported, awaiting registration",
        CaseState::Registered => "registered, awaiting dispatch",
        CaseState::Dispatched => "dispatched",
        CaseState::Accepted => "accepted by the department",
        CaseState::Handling => "handling",
        CaseState::Handled => "handled, awaiting verification",
        CaseState::Verified => "verified, awaiting closure",
        CaseState::Closed => "closed",
        CaseState::Rated => "closed and rated",
        CaseState::Suspended => "suspended",
        CaseState::Rejected => "rejected",
        CaseState::Cancelled => "cancelled",
    };
    match (state, reason) {
        (CaseState::Rejected | CaseState::Cancelled, Some(reason)) if !reason.is_empty() => {
            format!("{fine}: {reason}")
        }
        _ => fine.to_owned(),
    }
}

/// The handling deadline: the running handle clock's (with approved postponements), else the
/// deadline the case was dispatched with.
pub fn expected_at_us(case: &Case) -> Option<i64> {
    case.clock
        .as_ref()
        .filter(|c| c.stage == jz_domain::category::Stage::Handle && case.state.is_open())
        .map(|c| c.deadline_at_us)
        .or(case.handle_deadline_at_us)
}

fn department_name(config: &CaseConfig, id: Option<&str>) -> Option<String> {
    let id = id?;
    Some(
        config
            .departments
            .iter()
            .find(|d| d.id == id)
            .map_or_else(|| id.to_owned(), |d| d.name.clone()),
    )
}

/// The department a case is with, by name.
pub fn agency_responsible(case: &Case, config: &CaseConfig) -> Option<String> {
    department_name(config, case.department.as_deref())
}

/// What happens next, for the people who reported (Chinese, the city's language).
pub fn service_notice(case: &Case, config: &CaseConfig, reason: Option<&str>) -> String {
    let tz = config.calendar.time_zone();
    let department = agency_responsible(case, config).unwrap_or_else(|| "责任部门".into());
    let deadline = expected_at_us(case).map(|d| local_minute(d, tz));
    let by = |what: &str| match &deadline {
        Some(d) => format!("{what}，处置时限 {d}"),
        None => what.to_owned(),
    };
    match case.state {
        CaseState::Reported => "已收到，等待受理立案".into(),
        CaseState::Registered => "已立案，等待派遣至责任部门".into(),
        CaseState::Dispatched => by(&format!("已派遣至{department}")),
        CaseState::Accepted => by(&format!("{department}已接单")),
        CaseState::Handling => by(&format!("{department}正在处置")),
        CaseState::Handled => format!("{department}已处置，等待现场核查"),
        CaseState::Verified => "已核查通过，等待结案".into(),
        CaseState::Closed => "已结案，欢迎评价".into(),
        CaseState::Rated => "已结案并评价".into(),
        CaseState::Suspended => "已挂账，暂缓处置".into(),
        CaseState::Rejected => match reason {
            Some(r) if !r.is_empty() => format!("不予立案：{r}"),
            _ => "不予立案".into(),
        },
        CaseState::Cancelled => match reason {
            Some(r) if !r.is_empty() => format!("已作废：{r}"),
            _ => "已作废".into(),
        },
    }
}

/// The timeline events shown to the public (the scheduler's warnings and escalations,
/// postponement requests and other internal steps are not).
pub const PUBLIC_EVENT_KINDS: [&str; 19] = [
    "reported",
    "report_linked",
    "registered",
    "rejected",
    "dispatched",
    "accepted",
    "returned",
    "handling_started",
    "handled",
    "verified",
    "rework",
    "closed",
    "postponement_approved",
    "suspended",
    "resumed",
    "cancelled",
    "reopened",
    "whistled",
    "note_added",
];

/// A timeline event's public text (Chinese), or `None` for internal events.
pub fn public_text(
    kind: &str,
    note: Option<&str>,
    detail: &Value,
    config: &CaseConfig,
) -> Option<String> {
    let reason = detail.get("reason").and_then(Value::as_str);
    let with = |text: &str, extra: Option<&str>| match extra.filter(|e| !e.trim().is_empty()) {
        Some(extra) => format!("{text}：{extra}"),
        None => text.to_owned(),
    };
    let tz = config.calendar.time_zone();
    Some(match kind {
        "reported" => "已收到上报".into(),
        "report_linked" => "又有市民上报了同一问题".into(),
        "registered" => "已受理立案".into(),
        "rejected" => with("不予立案", reason),
        "dispatched" => format!(
            "已派遣至{}",
            department_name(config, detail.get("department").and_then(Value::as_str))
                .unwrap_or_else(|| "责任部门".into())
        ),
        "accepted" => "责任部门已接单".into(),
        "returned" => "责任部门退回，重新派遣".into(),
        "handling_started" => "开始处置".into(),
        "handled" => with("处置完毕，等待核查", note),
        "verified" => "现场核查通过".into(),
        "rework" => "核查未通过，返工处置".into(),
        "closed" => "已结案".into(),
        "postponement_approved" => match detail.get("deadline_at_us").and_then(Value::as_i64) {
            Some(d) => format!("已批准延期，新的处置时限 {}", local_minute(d, tz)),
            None => "已批准延期".into(),
        },
        "suspended" => "已挂账，暂缓处置".into(),
        "resumed" => "恢复处置".into(),
        "cancelled" => with("已作废", reason),
        "reopened" => "重新处置".into(),
        "whistled" => "街道吹哨，多部门协同处置".into(),
        "note_added" => note.unwrap_or_default().to_owned(),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Requests as the public sees them.

/// Which requests a list asks for.
#[derive(Debug, Clone, Default)]
pub struct RequestQuery {
    /// When given, exactly these cases (every other filter is ignored).
    pub ids: Vec<String>,
    pub service_codes: Vec<String>,
    /// `requested_datetime` from (inclusive) … until (exclusive).
    pub from_us: i64,
    pub until_us: i64,
    /// `Some(true)`: only open; `Some(false)`: only closed.
    pub open: Option<bool>,
    pub offset: i64,
    pub limit: i64,
}

/// One case as Open311 shows it, with what the public view needs beside the case.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub case: Case,
    pub updated_at_us: i64,
    /// The first report's address as its reporter wrote it.
    pub address: Option<String>,
    /// The first photo attached to the case.
    pub photo: Option<String>,
    /// Media URLs the first Open311 client gave (kept as given).
    pub media_urls: Vec<String>,
    /// Why the case was rejected or cancelled.
    pub reason: Option<String>,
}

/// What `extensions=true` adds to a request.
#[derive(Debug, Clone, Default)]
pub struct RequestExtras {
    pub answers: Vec<Answer>,
    pub photos: Vec<String>,
    pub events: Vec<PublicEvent>,
}

/// A public timeline event.
#[derive(Debug, Clone)]
pub struct PublicEvent {
    pub id: String,
    pub case_id: String,
    pub kind: String,
    pub at_us: i64,
    pub state: CaseState,
    pub description: String,
    /// The event's first photo, or a media URL an update gave.
    pub photo: Option<String>,
    pub media_url: Option<String>,
}

enum Bind {
    Text(String),
    Int(i64),
}

fn placeholders(start: usize, count: usize) -> String {
    (0..count)
        .map(|i| format!("${}", start + i))
        .collect::<Vec<_>>()
        .join(", ")
}

const CLOSED_STATES: &str = "('rejected', 'closed', 'rated', 'cancelled')";

/// Requests newest first (by `requested_datetime`).
pub async fn list_requests(
    store: &Store,
    query: &RequestQuery,
) -> Result<Vec<RequestRecord>, CaseError> {
    let mut sql = String::from(concat!(
        "SELECT c.data, ",
        crate::cases::reporters_of!("c"),
        ", c.updated_at_us,
           (SELECT r.address FROM case_report r WHERE r.case_id = c.id ORDER BY r.reported_at_us, r.id LIMIT 1),
           (SELECT p.id FROM photo p WHERE p.case_id = c.id ORDER BY p.at_us, p.id LIMIT 1),
           (SELECT o.media_urls FROM open311_request o WHERE o.case_id = c.id AND o.media_urls <> '[]' ORDER BY o.at_us, o.report_id LIMIT 1)
         FROM case_file c WHERE ",
    ));
    let mut binds: Vec<Bind> = Vec::new();
    if !query.ids.is_empty() {
        sql.push_str(&format!("c.id IN ({})", placeholders(1, query.ids.len())));
        binds.extend(query.ids.iter().cloned().map(Bind::Text));
    } else {
        sql.push_str("c.reported_at_us >= $1 AND c.reported_at_us < $2");
        binds.push(Bind::Int(query.from_us));
        binds.push(Bind::Int(query.until_us));
        if !query.service_codes.is_empty() {
            sql.push_str(&format!(
                " AND c.category_code IN ({})",
                placeholders(binds.len() + 1, query.service_codes.len())
            ));
            binds.extend(query.service_codes.iter().cloned().map(Bind::Text));
        }
        match query.open {
            Some(true) => sql.push_str(&format!(" AND c.state NOT IN {CLOSED_STATES}")),
            Some(false) => sql.push_str(&format!(" AND c.state IN {CLOSED_STATES}")),
            None => {}
        }
    }
    sql.push_str(&format!(
        " ORDER BY c.reported_at_us DESC, c.id DESC LIMIT {} OFFSET {}",
        query.limit.clamp(0, MAX_PAGE_SIZE),
        query.offset.max(0)
    ));
    // Only fixed fragments and $N placeholders are spliced in; every value is bound.
    let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql));
    for bind in binds {
        statement = match bind {
            Bind::Text(text) => statement.bind(text),
            Bind::Int(int) => statement.bind(int),
        };
    }
    let rows = statement.fetch_all(store.reader()).await?;
    let mut records = rows
        .iter()
        .map(|row| {
            let media: Option<String> = row.try_get(5)?;
            Ok(RequestRecord {
                case: decode_case(&row.try_get::<String, _>(0)?, row.try_get(1)?)?,
                updated_at_us: row.try_get(2)?,
                address: row.try_get(3)?,
                photo: row.try_get(4)?,
                media_urls: media
                    .and_then(|m| serde_json::from_str(&m).ok())
                    .unwrap_or_default(),
                reason: None,
            })
        })
        .collect::<Result<Vec<_>, CaseError>>()?;
    add_reasons(store, &mut records).await?;
    Ok(records)
}

/// Case ids bound to one query's `IN ($1, …)` list at the most.
const CASES_PER_QUERY: usize = 500;

/// `sql`, whose `$1…$N` are a list of case ids, with `ids` bound to them. Only fixed fragments
/// and placeholders may be spliced into `sql`.
fn for_cases(
    sql: String,
    ids: &[String],
) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments> {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in ids {
        query = query.bind(id.as_str());
    }
    query
}

/// Each rejected or cancelled record's reason: the latest rejection's or cancellation's. (A
/// separate query by case: as a correlated subquery of the list, the `case_step` view is not
/// narrowed to the case on SQLite and would be read whole per request.)
async fn add_reasons(store: &Store, records: &mut [RequestRecord]) -> Result<(), CaseError> {
    let ended: Vec<String> = records
        .iter()
        .filter(|r| matches!(r.case.state, CaseState::Rejected | CaseState::Cancelled))
        .map(|r| r.case.id.clone())
        .collect();
    let mut reasons: HashMap<String, Option<String>> = HashMap::new();
    for chunk in ended.chunks(CASES_PER_QUERY) {
        let query = for_cases(
            format!(
                "SELECT case_id, detail FROM case_step
                 WHERE case_id IN ({}) AND kind IN ('rejected', 'cancelled') ORDER BY at_us, id",
                placeholders(1, chunk.len())
            ),
            chunk,
        );
        for row in query.fetch_all(store.reader()).await? {
            let detail: Value =
                serde_json::from_str(&row.try_get::<String, _>(1)?).unwrap_or(Value::Null);
            let reason = detail.get("reason").and_then(Value::as_str);
            reasons.insert(row.try_get(0)?, reason.map(str::to_owned));
        }
    }
    for record in records {
        record.reason = reasons.remove(&record.case.id).flatten();
    }
    Ok(())
}

/// Attribute answers, photos and public timelines of cases, for `extensions=true`.
pub async fn request_extras(
    store: &Store,
    config: &CaseConfig,
    case_ids: &[String],
) -> Result<HashMap<String, RequestExtras>, CaseError> {
    let mut extras: HashMap<String, RequestExtras> = HashMap::new();
    for chunk in case_ids.chunks(CASES_PER_QUERY) {
        let list = placeholders(1, chunk.len());
        let rows = for_cases(format!(
            "SELECT case_id, attributes FROM open311_request WHERE case_id IN ({list}) ORDER BY at_us, report_id"
        ), chunk)
        .fetch_all(store.reader())
        .await?;
        for row in rows {
            let case_id: String = row.try_get(0)?;
            let entry = extras.entry(case_id).or_default();
            if entry.answers.is_empty() {
                entry.answers =
                    serde_json::from_str(&row.try_get::<String, _>(1)?).unwrap_or_default();
            }
        }
        let rows = for_cases(
            format!("SELECT case_id, id FROM photo WHERE case_id IN ({list}) ORDER BY at_us, id"),
            chunk,
        )
        .fetch_all(store.reader())
        .await?;
        for row in rows {
            let case_id: String = row.try_get(0)?;
            extras
                .entry(case_id)
                .or_default()
                .photos
                .push(row.try_get(1)?);
        }
        let kinds = PUBLIC_EVENT_KINDS
            .iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = for_cases(
            format!(
                "SELECT id, case_id, kind, at_us, to_state, note, photos, detail FROM case_step
             WHERE case_id IN ({list}) AND kind IN ({kinds}) ORDER BY at_us, id"
            ),
            chunk,
        )
        .fetch_all(store.reader())
        .await?;
        for row in &rows {
            if let Some(event) = public_event(row, config)? {
                extras
                    .entry(event.case_id.clone())
                    .or_default()
                    .events
                    .push(event);
            }
        }
    }
    Ok(extras)
}

fn public_event(
    row: &sqlx::any::AnyRow,
    config: &CaseConfig,
) -> Result<Option<PublicEvent>, CaseError> {
    let kind: String = row.try_get(2)?;
    let note: Option<String> = row.try_get(5)?;
    let photos: Option<String> = row.try_get(6)?;
    let detail: Value = serde_json::from_str(&row.try_get::<String, _>(7)?).unwrap_or(Value::Null);
    let Some(description) = public_text(&kind, note.as_deref(), &detail, config) else {
        return Ok(None);
    };
    let state: CaseState = row
        .try_get::<String, _>(4)?
        .parse()
        .map_err(|e: String| CaseError::Store(StoreError::Database(e.into())))?;
    Ok(Some(PublicEvent {
        id: row.try_get(0)?,
        case_id: row.try_get(1)?,
        at_us: row.try_get(3)?,
        state,
        description,
        photo: photos
            .and_then(|p| serde_json::from_str::<Vec<String>>(&p).ok())
            .and_then(|p| p.into_iter().next()),
        media_url: detail
            .get("media_url")
            .and_then(Value::as_str)
            .map(str::to_owned),
        kind,
    }))
}

/// Which request updates a list asks for.
#[derive(Debug, Clone, Default)]
pub struct UpdateQuery {
    /// When given, only these cases' updates.
    pub case_ids: Vec<String>,
    pub from_us: i64,
    pub until_us: i64,
    pub offset: i64,
    pub limit: i64,
}

/// Public timeline events as request updates, oldest first.
pub async fn list_updates(
    store: &Store,
    config: &CaseConfig,
    query: &UpdateQuery,
) -> Result<Vec<PublicEvent>, CaseError> {
    let kinds = PUBLIC_EVENT_KINDS
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut sql = format!(
        "SELECT id, case_id, kind, at_us, to_state, note, photos, detail FROM case_step
         WHERE at_us >= $1 AND at_us < $2 AND kind IN ({kinds})"
    );
    if !query.case_ids.is_empty() {
        sql.push_str(&format!(
            " AND case_id IN ({})",
            placeholders(3, query.case_ids.len())
        ));
    }
    sql.push_str(&format!(
        " ORDER BY at_us, id LIMIT {} OFFSET {}",
        query.limit.clamp(0, MAX_PAGE_SIZE),
        query.offset.max(0)
    ));
    // Only fixed fragments and $N placeholders are spliced in; every value is bound.
    let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(query.from_us)
        .bind(query.until_us);
    for id in &query.case_ids {
        statement = statement.bind(id.as_str());
    }
    let rows = statement.fetch_all(store.reader()).await?;
    let mut events = Vec::new();
    for row in &rows {
        if let Some(event) = public_event(row, config)? {
            events.push(event);
        }
    }
    Ok(events)
}

/// A photo attached to a case (public through Open311), with its content type.
pub async fn public_photo(store: &Store, id: &str) -> Result<Option<(String, Vec<u8>)>, CaseError> {
    let row =
        sqlx::query("SELECT content_type, bytes FROM photo WHERE id = $1 AND case_id IS NOT NULL")
            .bind(id)
            .fetch_optional(store.reader())
            .await?;
    row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .transpose()
}

// ---------------------------------------------------------------------------------------------
// Writes.

/// What an Open311 client sent with a report beyond the report itself.
#[derive(Debug, Clone)]
pub struct RequestAddition {
    pub report_id: String,
    pub case_id: String,
    pub service_code: String,
    pub answers: Vec<Answer>,
    /// Media URLs the client gave, kept as given.
    pub media_urls: Vec<String>,
    pub api_key_id: String,
}

/// Keeps what an Open311 client sent with a report beside the report: the attribute answers and
/// the media URLs it gave. Written after intake committed the report; a repeat is ignored.
pub async fn record_request(
    store: &Store,
    addition: &RequestAddition,
    at_us: i64,
) -> Result<(), CaseError> {
    let change = Change::new().statement(
        Statement::new(
            "INSERT INTO open311_request (report_id, case_id, service_code, attributes, media_urls, api_key_id, at_us)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (report_id) DO NOTHING",
        )
        .bind(addition.report_id.clone())
        .bind(addition.case_id.clone())
        .bind(addition.service_code.clone())
        .bind(serde_json::to_string(&addition.answers).expect("answers serialize"))
        .bind(serde_json::to_string(&addition.media_urls).expect("urls serialize"))
        .bind(addition.api_key_id.clone())
        .bind(at_us),
    );
    store.write(change).await?;
    Ok(())
}

/// A request update posted by an Open311 client (FixMyStreet's extension).
#[derive(Debug, Clone)]
pub struct UpdateInput {
    /// The client's own id of the update; a repeat answers the first.
    pub update_id: String,
    /// The case.
    pub service_request_id: String,
    /// When the client says the update was made.
    pub updated_at_us: i64,
    /// The client's extended status (upper case), kept as information: it does not move the
    /// case, which changes only through the loop's commands.
    pub status: String,
    pub description: String,
    pub media_url: Option<String>,
}

/// What a posted update became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateOutcome {
    /// The timeline event's id: Jingzhi's id of the update.
    pub event_id: String,
    pub case_id: String,
    /// True when the client's update id was seen before.
    pub replayed: bool,
}

async fn known_update(
    store: &Store,
    api_key_id: &str,
    update_id: &str,
) -> Result<Option<UpdateOutcome>, CaseError> {
    let row = sqlx::query(
        "SELECT event_id, case_id FROM open311_update WHERE api_key_id = $1 AND update_id = $2",
    )
    .bind(api_key_id)
    .bind(update_id)
    .fetch_optional(store.reader())
    .await?;
    row.map(|row| {
        Ok(UpdateOutcome {
            event_id: row.try_get(0)?,
            case_id: row.try_get(1)?,
            replayed: true,
        })
    })
    .transpose()
}

/// Adds a client's update to a case's timeline as a `note_added` event (the state stays; the
/// case's version is not raised, so no department's command becomes stale), with one audit
/// record, in one change. The client's update id is kept per API key: a repeat answers the
/// first update and writes nothing.
pub async fn add_update(
    cases: &Cases,
    input: &UpdateInput,
    actor: &Actor,
    api_key_id: &str,
    origin: &str,
    at_us: i64,
) -> Result<UpdateOutcome, CaseError> {
    if input.update_id.is_empty() || input.update_id.chars().count() > 128 {
        return Err(CaseError::Invalid("update_id: 1 to 128 characters".into()));
    }
    if input.description.trim().is_empty() {
        return Err(CaseError::Invalid("description: must not be empty".into()));
    }
    if input.description.chars().count() > MAX_TEXT_CHARS {
        return Err(CaseError::Invalid(format!(
            "description: at most {MAX_TEXT_CHARS} characters"
        )));
    }
    if let Some(known) = known_update(&cases.store, api_key_id, &input.update_id).await? {
        return Ok(known);
    }
    let case = load_case(&cases.store, &input.service_request_id)
        .await?
        .filter(|c| actor.covers(&c.place.community))
        .ok_or_else(|| {
            CaseError::NotFound(format!("service request {}", input.service_request_id))
        })?;
    let event_id = new_id();
    let detail = json!({
        "source": "open311",
        "update_id": input.update_id,
        "status": input.status,
        "updated_at_us": input.updated_at_us,
        "media_url": input.media_url,
    });
    let state = case.state.as_str();
    let step = crate::cases::Step {
        actor: None,
        detail: &detail,
        from: Some(state),
        id: event_id.clone(),
        kind: "note_added",
        lat: None,
        lon: None,
        note: Some(&input.description),
        photos: &[],
        role: None,
        to: state,
    };
    let change = Change::new()
        .statement(
            Statement::new(
                "INSERT INTO open311_update (api_key_id, update_id, case_id, event_id, at_us) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(api_key_id)
            .bind(input.update_id.clone())
            .bind(case.id.clone())
            .bind(event_id.clone())
            .bind(at_us),
        )
        .audit(AuditRecord {
            at_us,
            actor: actor.id.clone(),
            actor_role: actor.role.as_str().into(),
            action: "case.note_added".into(),
            subject_kind: "case".into(),
            subject_id: case.id.clone(),
            origin: origin.to_owned(),
            before: None,
            after: Some(
                json!({ "state": state, "steps": [step] }).to_string(),
            ),
        });
    match cases.store.write(change).await {
        Ok(_) => Ok(UpdateOutcome {
            event_id,
            case_id: case.id,
            replayed: false,
        }),
        // The same update posted twice at once: the key's update id is unique; answer the
        // one that was written.
        Err(StoreError::Constraint { .. }) => {
            known_update(&cases.store, api_key_id, &input.update_id)
                .await?
                .ok_or_else(|| {
                    CaseError::Invalid("update_id: the update could not be recorded; retry".into())
                })
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shanghai() -> TimeZone {
        jiff::tz::TimeZoneDatabase::bundled()
            .get("Asia/Shanghai")
            .unwrap()
    }

    #[test]
    fn w3c_datetimes_parse_with_offsets_fractions_and_lost_plus_signs() {
        let tz = shanghai();
        let base = parse_w3c("2026-10-08T10:00:00+08:00", &tz).unwrap();
        for (text, expected) in [
            ("2026-10-08T02:00:00Z", Ok(base)),
            ("2026-10-08T10:00:00 08:00", Ok(base)),
            ("2026-10-08T10:00+08:00", Ok(base)),
            ("2026-10-08T02:00:00.017Z", Ok(base + 17_000)),
            ("2026-10-07T20:00:00-05:00", Ok(base - 3_600_000_000)),
            ("2026-10-08", Ok(base - 10 * 3_600_000_000)),
            ("  2026-10-08T10:00:00+08:00 ", Ok(base)),
        ] {
            assert_eq!(
                parse_w3c(text, &tz).map_err(|_| ()),
                expected.map_err(|_: ()| ()),
                "{text}"
            );
        }
        for bad in [
            "2026-10-08T10:00:00",
            "yesterday",
            "2026-13-08T10:00:00Z",
            "20261008T100000Z",
            "2026-10-08T10:00:00+08:00[Asia/Shanghai]",
            "",
        ] {
            assert!(parse_w3c(bad, &tz).is_err(), "{bad}");
        }
        assert_eq!(format_w3c(base, &tz), "2026-10-08T10:00:00+08:00");
        assert_eq!(format_w3c(base + 999_999, &tz), "2026-10-08T10:00:00+08:00");
        assert_eq!(
            format_w3c(base, &jiff::tz::TimeZone::UTC),
            "2026-10-08T02:00:00Z"
        );
    }

    fn definitions() -> Vec<AttributeDefinition> {
        let mut all = default_attributes("06028");
        all.extend(default_attributes("06010"));
        all.extend(default_attributes("01037"));
        for (i, a) in all.iter_mut().enumerate() {
            a.order = i as u32 + 1;
        }
        all
    }

    fn answers(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    #[test]
    fn answers_are_checked_by_datatype() {
        let tz = shanghai();
        let defs = definitions();
        let kinds: Vec<Datatype> = defs.iter().map(|d| d.datatype).collect();
        for datatype in Datatype::ALL {
            assert!(kinds.contains(&datatype), "{datatype:?} is not covered");
        }
        let ok = validate_answers(
            &defs,
            &answers(&[
                ("source", &["business"]),
                ("started_at", &["2026-10-08T22:30:00Z"]),
                ("decibels", &["75.5"]),
                ("details", &["第一行\n第二行"]),
                ("volume", &["small"]),
                ("kinds", &["household", "bulky", "household"]),
                ("fault", &["off"]),
                ("pole_number", &["LD-0012"]),
                ("safety", &["ignored"]),
                ("unknown", &["ignored"]),
            ]),
            &tz,
        )
        .unwrap();
        let find = |code: &str| ok.iter().find(|a| a.code == code).map(|a| a.values.clone());
        assert_eq!(find("started_at").unwrap(), ["2026-10-09T06:30:00+08:00"]);
        assert_eq!(find("kinds").unwrap(), ["household", "bulky"]);
        assert_eq!(find("safety"), None);
        assert_eq!(find("unknown"), None);

        let problems = validate_answers(
            &defs,
            &answers(&[
                ("source", &["spaceship"]),
                ("started_at", &["tonight"]),
                ("decibels", &["loud"]),
                ("details", &[&"很".repeat(4001)]),
                ("kinds", &["household", "glass"]),
                ("pole_number", &["one\ntwo"]),
                ("fault", &["off", "flickering"]),
            ]),
            &tz,
        )
        .unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "attribute[source]",
                "attribute[started_at]",
                "attribute[decibels]",
                "attribute[details]",
                "attribute[volume]",
                "attribute[kinds]",
                "attribute[pole_number]",
                "attribute[fault]",
            ],
            "{problems:?}"
        );
        // Empty answers are absent answers.
        let problems = validate_answers(&defs, &answers(&[("source", &[""])]), &tz).unwrap_err();
        assert!(problems.iter().any(|p| p.field == "attribute[source]"));
    }

    #[test]
    fn states_map_to_open_or_closed_and_extended_statuses() {
        for state in CaseState::ALL {
            assert_eq!(status(state) == "closed", !state.is_open(), "{state}");
            assert!(EXTENDED_STATUSES.contains(&extended_status(state)));
        }
        assert_eq!(
            status_notes(CaseState::Rejected, Some("不属于城市管理范围")),
            "rejected: 不属于城市管理范围"
        );
        assert_eq!(
            status_notes(CaseState::Handled, Some("x")),
            "handled, awaiting verification"
        );
    }

    #[test]
    fn keywords_come_from_the_name_and_major_class() {
        let catalogue = jz_domain::category::seed_from_csv(
            "kind,major_code,major_name,code,name\nmatter,10,其他事项类,10001,道路积雪、结冰\nmatter,06,市容环境类,06014,道路遗撒（洒）\n",
        )
        .unwrap();
        assert_eq!(
            keywords_of(&catalogue.categories[0]),
            ["道路积雪", "结冰", "其他事项"]
        );
        assert_eq!(
            keywords_of(&catalogue.categories[1]),
            ["道路遗撒", "市容环境"]
        );
    }
}
