//! API keys for systems: Open311 clients, sensor gateways, other platforms. A key acts as a user
//! (their role and territory apply), is limited to its scopes and to a number of requests per
//! minute, is stored only as the SHA-256 of its secret, and stops working when revoked.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use jz_store::{Change, Statement, Store, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::users::User;
use super::{CaseError, new_id};

/// What a key may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The native API (`/api/v1`), as the key's user.
    Api,
    /// Open311 writes: POST requests and request updates.
    Open311,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Api => "api",
            Scope::Open311 => "open311",
        }
    }

    pub fn parse(text: &str) -> Result<Scope, CaseError> {
        match text.trim() {
            "api" => Ok(Scope::Api),
            "open311" => Ok(Scope::Open311),
            other => Err(CaseError::Invalid(format!(
                "scopes: unknown scope `{other}`; scopes are api, open311"
            ))),
        }
    }
}

/// A key as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub scopes: Vec<Scope>,
    pub rate_per_minute: u32,
    pub active: bool,
}

/// The prefix of every API key secret.
pub const KEY_PREFIX: &str = "jzk_";

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A token bucket per key: `rate_per_minute` requests a minute, bursts up to the same number.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Authenticated keys and their buckets.
#[derive(Debug, Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<String, (User, ApiKey)>>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl KeyCache {
    /// The user a key acts as, if the key is active, has `scope`, and is within its rate.
    pub async fn authenticate(
        &self,
        store: &Store,
        secret: &str,
        scope: Scope,
    ) -> Result<(User, ApiKey), CaseError> {
        if !secret.starts_with(KEY_PREFIX) || secret.len() > 128 {
            return Err(CaseError::Unauthenticated);
        }
        let key_hash = hash(secret);
        let cached = self.keys.lock().expect("key cache").get(&key_hash).cloned();
        let (user, key) = match cached {
            Some(found) => found,
            None => {
                let row = sqlx::query(
                    "SELECT k.id, k.name, k.user_id, k.scopes, k.rate_per_minute, k.active,
                            u.id, u.name, u.role, u.territory, u.department_id, u.active
                     FROM api_key k JOIN app_user u ON u.id = k.user_id
                     WHERE k.key_hash = $1 AND k.active = 1 AND u.active = 1",
                )
                .bind(key_hash.as_str())
                .fetch_optional(store.reader())
                .await?
                .ok_or(CaseError::Unauthenticated)?;
                let key = ApiKey {
                    id: row.try_get(0)?,
                    name: row.try_get(1)?,
                    user_id: row.try_get(2)?,
                    scopes: parse_scopes(&row.try_get::<String, _>(3)?)?,
                    rate_per_minute: u32::try_from(row.try_get::<i64, _>(4)?).unwrap_or(0),
                    active: row.try_get::<i64, _>(5)? != 0,
                };
                let user = super::users::user_from_columns(&row, 6)?;
                self.keys
                    .lock()
                    .expect("key cache")
                    .insert(key_hash.clone(), (user.clone(), key.clone()));
                (user, key)
            }
        };
        if !key.scopes.contains(&scope) {
            return Err(CaseError::Forbidden(format!(
                "API key `{}` does not have the `{}` scope",
                key.name,
                scope.as_str()
            )));
        }
        self.take(&key)?;
        Ok((user, key))
    }

    fn take(&self, key: &ApiKey) -> Result<(), CaseError> {
        let rate = f64::from(key.rate_per_minute.max(1));
        let mut buckets = self.buckets.lock().expect("buckets");
        let now = Instant::now();
        let bucket = buckets.entry(key.id.clone()).or_insert(Bucket {
            tokens: rate,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * rate / 60.0;
        bucket.tokens = (bucket.tokens + refill).min(rate);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            let wait = ((1.0 - bucket.tokens) * 60.0 / rate).ceil() as u64;
            return Err(CaseError::RateLimited {
                retry_after_s: wait.max(1),
            });
        }
        bucket.tokens -= 1.0;
        Ok(())
    }

    /// Forgets cached keys (after a revocation).
    pub fn forget_all(&self) {
        self.keys.lock().expect("key cache").clear();
    }
}

fn parse_scopes(text: &str) -> Result<Vec<Scope>, CaseError> {
    text.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(Scope::parse)
        .collect()
}

/// Creates a key for a user; returns it with its secret (shown only now).
pub async fn create_api_key(
    store: &Store,
    by: &crate::city::Actor,
    user_id: &str,
    name: &str,
    scopes: &[Scope],
    rate_per_minute: u32,
) -> Result<(ApiKey, String), CaseError> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(CaseError::Invalid("name: 1 to 100 characters".into()));
    }
    if scopes.is_empty() {
        return Err(CaseError::Invalid("scopes: at least one scope".into()));
    }
    if !(1..=100_000).contains(&rate_per_minute) {
        return Err(CaseError::Invalid(
            "rate_per_minute: between 1 and 100000".into(),
        ));
    }
    let key = ApiKey {
        id: new_id(),
        name: name.trim().to_owned(),
        user_id: user_id.to_owned(),
        scopes: scopes.to_vec(),
        rate_per_minute,
        active: true,
    };
    let secret = format!(
        "{KEY_PREFIX}{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let scopes_text: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let change = Change::new()
        .statement(
            Statement::new(
                "INSERT INTO api_key (id, name, user_id, key_hash, scopes, rate_per_minute, active, created_at_us) VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
            )
            .bind(key.id.clone())
            .bind(key.name.clone())
            .bind(user_id)
            .bind(hash(&secret))
            .bind(scopes_text.join(","))
            .bind(i64::from(rate_per_minute))
            .bind(by.at_us),
        )
        .audit(by.audit(
            "admin",
            "api_key.create",
            "api_key",
            key.id.clone(),
            None,
            serde_json::to_string(&key).ok(),
        ));
    store.write(change).await.map_err(|e| match e {
        StoreError::Constraint { .. } => {
            CaseError::Invalid(format!("user_id: unknown user `{user_id}`"))
        }
        other => other.into(),
    })?;
    Ok((key, secret))
}

/// Revokes a key: it stops working at once in this process.
pub async fn revoke_api_key(
    store: &Store,
    cache: &KeyCache,
    by: &crate::city::Actor,
    id: &str,
) -> Result<(), CaseError> {
    let change = Change::new()
        .statement(
            Statement::new("UPDATE api_key SET active = 0 WHERE id = $1 AND active = 1")
                .bind(id)
                .expect_rows(1),
        )
        .audit(by.audit(
            "admin",
            "api_key.revoke",
            "api_key",
            id,
            None,
            Some("{\"active\":false}".into()),
        ));
    store.write(change).await.map_err(|e| match e {
        StoreError::Conflict { .. } => CaseError::NotFound(format!("active API key {id}")),
        other => other.into(),
    })?;
    cache.forget_all();
    Ok(())
}

/// Lists keys.
pub async fn list_api_keys(store: &Store) -> Result<Vec<ApiKey>, CaseError> {
    let rows = sqlx::query(
        "SELECT id, name, user_id, scopes, rate_per_minute, active FROM api_key ORDER BY name, id",
    )
    .fetch_all(store.reader())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ApiKey {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
                user_id: row.try_get(2)?,
                scopes: parse_scopes(&row.try_get::<String, _>(3)?)?,
                rate_per_minute: u32::try_from(row.try_get::<i64, _>(4)?).unwrap_or(0),
                active: row.try_get::<i64, _>(5)? != 0,
            })
        })
        .collect()
}
