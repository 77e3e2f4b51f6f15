//! People and systems acting in Jingzhi, and their API tokens.
//!
//! A user has a role, a territory (a division subtree; none = the whole city) and, for handlers,
//! a department. Tokens are 256-bit random strings shown once at creation; only their SHA-256 is
//! stored (a slow password hash is not needed for high-entropy secrets), so a leaked database
//! does not leak usable tokens. Revoking a token takes effect at once in this process.

use std::collections::HashMap;
use std::sync::Mutex;

use jz_domain::access::{Actor, Role};
use jz_domain::division::DivisionCode;
use jz_store::{Change, Statement, Store};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{CaseError, new_id};

/// A user as listed (never with the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub territory: Option<String>,
    pub department: Option<String>,
    pub active: bool,
}

impl User {
    pub fn actor(&self) -> Actor {
        Actor {
            id: format!("user:{}", self.id),
            role: self.role,
            territory: self
                .territory
                .as_deref()
                .and_then(|t| DivisionCode::parse(t).ok()),
            department: self.department.clone(),
        }
    }
}

/// The prefix of every token, so that leaked tokens are recognisable in logs and scanners.
pub const TOKEN_PREFIX: &str = "jz_";

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("{TOKEN_PREFIX}{a}{b}")
}

/// Authenticated tokens, by hash.
#[derive(Debug, Default)]
pub struct TokenCache(Mutex<HashMap<String, User>>);

impl TokenCache {
    /// The active user a bearer token belongs to.
    pub async fn authenticate(&self, store: &Store, token: &str) -> Result<User, CaseError> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
            return Err(CaseError::Unauthenticated);
        }
        let key = hash(token);
        if let Some(user) = self.0.lock().expect("token cache").get(&key) {
            return Ok(user.clone());
        }
        let row = sqlx::query(
            "SELECT id, name, role, territory, department_id, active FROM app_user WHERE token_hash = $1 AND active = 1",
        )
        .bind(key.as_str())
        .fetch_optional(store.reader())
        .await?
        .ok_or(CaseError::Unauthenticated)?;
        let user = user_from_row(&row)?;
        self.0
            .lock()
            .expect("token cache")
            .insert(key, user.clone());
        Ok(user)
    }

    pub fn forget_all(&self) {
        self.0.lock().expect("token cache").clear();
    }
}

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User, CaseError> {
    user_from_columns(row, 0)
}

/// A user from six columns starting at `first`: id, name, role, territory, department_id,
/// active (the order every query of a user selects them in).
pub(crate) fn user_from_columns(row: &sqlx::any::AnyRow, first: usize) -> Result<User, CaseError> {
    Ok(User {
        id: row.try_get(first)?,
        name: row.try_get(first + 1)?,
        role: row
            .try_get::<String, _>(first + 2)?
            .parse()
            .map_err(CaseError::Invalid)?,
        territory: row.try_get(first + 3)?,
        department: row.try_get(first + 4)?,
        active: row.try_get::<i64, _>(first + 5)? != 0,
    })
}

/// Creates a user and returns it with its token (shown only now).
pub async fn create_user(
    store: &Store,
    by: &crate::city::Actor,
    name: &str,
    role: Role,
    territory: Option<DivisionCode>,
    department: Option<String>,
) -> Result<(User, String), CaseError> {
    create_user_with_login(store, by, name, role, territory, department, None).await
}

/// Creates a user with a console login and password, in one change (a taken login leaves
/// nothing behind).
pub async fn create_user_with_login(
    store: &Store,
    by: &crate::city::Actor,
    name: &str,
    role: Role,
    territory: Option<DivisionCode>,
    department: Option<String>,
    login: Option<(&str, &str)>,
) -> Result<(User, String), CaseError> {
    let login = login
        .map(|(login, password)| super::sessions::login_and_hash(login, password))
        .transpose()?;
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(CaseError::Invalid("name: 1 to 100 characters".into()));
    }
    if role == Role::System {
        return Err(CaseError::Invalid(
            "role: `system` is Jingzhi itself, not a user".into(),
        ));
    }
    if (role == Role::Handler) != department.is_some() {
        return Err(CaseError::Invalid(
            "department: a handler needs a department, and only handlers have one".into(),
        ));
    }
    let user = User {
        id: new_id(),
        name: name.trim().to_owned(),
        role,
        territory: territory.map(|t| t.as_str().to_owned()),
        department,
        active: true,
    };
    let token = new_token();
    let change = Change::new()
        .statement(
            Statement::new(
                "INSERT INTO app_user (id, name, role, territory, department_id, token_hash, active, created_at_us, login, password_hash) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9)",
            )
            .bind(user.id.clone())
            .bind(user.name.clone())
            .bind(role.as_str())
            .bind(user.territory.clone())
            .bind(user.department.clone())
            .bind(hash(&token))
            .bind(by.at_us)
            .bind(login.as_ref().map(|(login, _)| login.clone()))
            .bind(login.as_ref().map(|(_, hash)| hash.clone())),
        )
        .audit(by.audit(
            "admin",
            "user.create",
            "user",
            user.id.clone(),
            None,
            serde_json::to_string(&serde_json::json!({
                "user": &user,
                "login": login.as_ref().map(|(login, _)| login),
            }))
            .ok(),
        ));
    store.write(change).await.map_err(|e| match e {
        jz_store::StoreError::Constraint {
            kind: jz_store::ConstraintKind::Unique,
            ..
        } => CaseError::Exists(format!(
            "login {}",
            login.as_ref().map(|(l, _)| l.as_str()).unwrap_or("")
        )),
        jz_store::StoreError::Constraint { message, .. } => {
            CaseError::Invalid(format!("department: unknown department ({message})"))
        }
        other => other.into(),
    })?;
    Ok((user, token))
}

/// Deactivates a user: their token stops working.
pub async fn revoke_user(
    store: &Store,
    cache: &TokenCache,
    by: &crate::city::Actor,
    id: &str,
) -> Result<(), CaseError> {
    let change = Change::new()
        .statement(
            Statement::new(
                "UPDATE app_user SET active = 0, token_hash = NULL WHERE id = $1 AND active = 1",
            )
            .bind(id)
            .expect_rows(1),
        )
        .audit(by.audit(
            "admin",
            "user.revoke",
            "user",
            id,
            None,
            Some("{\"active\":false}".into()),
        ));
    store.write(change).await.map_err(|e| match e {
        jz_store::StoreError::Conflict { .. } => CaseError::NotFound(format!("active user {id}")),
        other => other.into(),
    })?;
    cache.forget_all();
    Ok(())
}

/// Lists users.
pub async fn list_users(store: &Store) -> Result<Vec<User>, CaseError> {
    let rows = sqlx::query(
        "SELECT id, name, role, territory, department_id, active FROM app_user ORDER BY name, id",
    )
    .fetch_all(store.reader())
    .await?;
    rows.iter().map(user_from_row).collect()
}
