//! The city model: importing divisions, generating boundaries and unit grids, locating points.

pub mod export;
pub mod import;
pub mod model;
pub mod plan;
pub mod source;
pub mod store;

pub use import::{Actor, ImportError, ImportReport, import, plan_sources, shanghai_sources};
pub use model::{CityModel, LocateError, Located, ZoneRef};
pub use plan::{ImportOptions, ImportPlan, ImportProblem, plan_import};
pub use source::{FieldMapping, LevelRule, RawDivision, SourceFile, read_source};

/// Builds the in-memory model from what is stored.
pub async fn load_model(store: &jz_store::Store) -> Result<CityModel, jz_store::StoreError> {
    let divisions = store::load_divisions(store).await?;
    let grids = store::load_grid_shapes(store).await?;
    let zones = crate::zones::zones(store).await?;
    tokio::task::spawn_blocking(move || CityModel::build(&divisions, grids, &zones))
        .await
        .map_err(|error| {
            jz_store::StoreError::Database(
                format!("building the city model failed: {error}").into(),
            )
        })
}

/// The current city model, shared by request handlers and swapped whole when boundaries change.
#[derive(Debug)]
pub struct SharedCity {
    current: std::sync::RwLock<std::sync::Arc<CityModel>>,
}

impl SharedCity {
    pub fn new(model: CityModel) -> SharedCity {
        SharedCity {
            current: std::sync::RwLock::new(std::sync::Arc::new(model)),
        }
    }

    /// The model as it is now; lookups hold it without blocking a rebuild.
    pub fn current(&self) -> std::sync::Arc<CityModel> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Rebuilds from the store and swaps the new model in.
    pub async fn reload(&self, store: &jz_store::Store) -> Result<(), jz_store::StoreError> {
        let model = load_model(store).await?;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = std::sync::Arc::new(model);
        Ok(())
    }
}

/// Rebuilds the shared model when the outbox says boundaries or zones changed.
#[derive(Debug, Clone)]
pub struct CityReloader {
    pub store: jz_store::Store,
    pub city: std::sync::Arc<SharedCity>,
}

impl jz_store::OutboxHandler for CityReloader {
    async fn deliver(&self, item: &jz_store::OutboxItem) -> Result<(), String> {
        if item.topic != store::CITY_MODEL_CHANGED {
            return Err(format!("no handler for outbox topic `{}`", item.topic));
        }
        self.city
            .reload(&self.store)
            .await
            .map_err(|error| error.to_string())?;
        tracing::info!(
            grids = self.city.current().grid_count(),
            "city model rebuilt"
        );
        Ok(())
    }
}
