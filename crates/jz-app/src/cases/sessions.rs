//! Console sessions: login with a password (Argon2id), a session secret for an HttpOnly cookie,
//! a CSRF token the console sends back on every write, expiry and logout. Failed logins are
//! slowed down per login name.

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use jz_domain::audit::AuditRecord;
use jz_store::{Change, Statement, Store, StoreError};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::CaseError;
use super::users::User;

/// How long a session lasts from login.
pub const SESSION_HOURS: i64 = 12;
/// Failed logins allowed per login name per window before further attempts are refused.
pub const MAX_FAILED_LOGINS: u32 = 5;
const FAILED_WINDOW_US: i64 = 15 * 60 * 1_000_000;

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// A session as the HTTP layer needs it.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
    pub expires_at_us: i64,
}

/// Sessions by secret hash, and failed logins by name.
#[derive(Debug, Default)]
pub struct Sessions {
    cache: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<String, (u32, i64)>>,
}

/// The password rules: at least 10 characters, not all of one kind.
pub fn password_problems(password: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < 10 {
        return Some("password: at least 10 characters".into());
    }
    if chars > 200 {
        return Some("password: at most 200 characters".into());
    }
    None
}

/// Checks a login name and a password, and hashes the password (Argon2id, random salt).
pub fn login_and_hash(login: &str, password: &str) -> Result<(String, String), CaseError> {
    let login = login.trim();
    if login.is_empty()
        || login.chars().count() > 64
        || !login
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
    {
        return Err(CaseError::Invalid(
            "login: 1 to 64 letters, digits, '.', '-', '_' or '@'".into(),
        ));
    }
    if let Some(problem) = password_problems(password) {
        return Err(CaseError::Invalid(problem));
    }
    // A 16-byte random salt (from the OS generator, through UUIDv4).
    let salt = *uuid::Uuid::new_v4().as_bytes();
    let password_hash = Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| CaseError::Invalid(format!("password: {e}")))?
        .to_string();
    Ok((login.to_owned(), password_hash))
}

/// Sets (or replaces) a user's login name and password.
pub async fn set_password(
    store: &Store,
    by: &crate::city::Actor,
    user_id: &str,
    login: &str,
    password: &str,
) -> Result<(), CaseError> {
    let (login, password_hash) = login_and_hash(login, password)?;
    let login = login.as_str();
    let change = Change::new()
        .statement(
            Statement::new("UPDATE app_user SET login = $2, password_hash = $3 WHERE id = $1")
                .bind(user_id)
                .bind(login)
                .bind(password_hash)
                .expect_rows(1),
        )
        .audit(by.audit(
            "admin",
            "user.set_password",
            "user",
            user_id,
            None,
            Some(serde_json::json!({ "login": login }).to_string()),
        ));
    store.write(change).await.map_err(|e| match e {
        StoreError::Conflict { .. } => CaseError::NotFound(format!("user {user_id}")),
        StoreError::Constraint { .. } => CaseError::Exists(format!("login {login}")),
        other => other.into(),
    })?;
    Ok(())
}

impl Sessions {
    /// Checks a login and password; opens a session. Returns the session secret (for the cookie)
    /// and the session.
    pub async fn login(
        &self,
        store: &Store,
        login: &str,
        password: &str,
        origin: &str,
        at_us: i64,
    ) -> Result<(String, Session), CaseError> {
        let key = login.trim().to_lowercase();
        {
            let failures = self.failures.lock().expect("failures");
            if let Some((count, since)) = failures.get(&key)
                && *count >= MAX_FAILED_LOGINS
                && at_us - since < FAILED_WINDOW_US
            {
                return Err(CaseError::RateLimited {
                    retry_after_s: ((FAILED_WINDOW_US - (at_us - since)) / 1_000_000).max(1) as u64,
                });
            }
        }
        let row = sqlx::query(
            "SELECT id, name, role, territory, department_id, active, password_hash FROM app_user WHERE login = $1 AND active = 1",
        )
        .bind(login.trim())
        .fetch_optional(store.reader())
        .await?;
        // Verify against a real hash of a random password when the login is unknown, so that
        // both answers take as long.
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let dummy = DUMMY.get_or_init(|| {
            Argon2::default()
                .hash_password_with_salt(
                    random_secret().as_bytes(),
                    uuid::Uuid::new_v4().as_bytes(),
                )
                .map(|h| h.to_string())
                .unwrap_or_default()
        });
        let stored: Option<String> = match &row {
            Some(row) => row.try_get(6)?,
            None => None,
        };
        let candidate = stored.clone().unwrap_or_else(|| dummy.clone());
        let password = password.to_owned();
        let verified = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&candidate)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        let Some(row) = row.filter(|_| verified && stored.is_some()) else {
            let mut failures = self.failures.lock().expect("failures");
            let entry = failures.entry(key).or_insert((0, at_us));
            if at_us - entry.1 >= FAILED_WINDOW_US {
                *entry = (0, at_us);
            }
            entry.0 += 1;
            return Err(CaseError::Unauthenticated);
        };
        self.failures.lock().expect("failures").remove(&key);
        let user = super::users::user_from_columns(&row, 0)?;
        let secret = random_secret();
        let csrf_token = random_secret();
        let expires_at_us = at_us + SESSION_HOURS * 3_600_000_000;
        let change = Change::new()
            .statement(
                Statement::new(
                    "INSERT INTO session (id_hash, user_id, csrf_token, created_at_us, expires_at_us, revoked) VALUES ($1, $2, $3, $4, $5, 0)",
                )
                .bind(hash(&secret))
                .bind(user.id.clone())
                .bind(csrf_token.clone())
                .bind(at_us)
                .bind(expires_at_us),
            )
            .audit(AuditRecord {
                at_us,
                actor: format!("user:{}", user.id),
                actor_role: user.role.as_str().into(),
                action: "session.login".into(),
                subject_kind: "user".into(),
                subject_id: user.id.clone(),
                origin: origin.into(),
                before: None,
                after: Some(serde_json::json!({ "expires_at_us": expires_at_us }).to_string()),
            });
        store.write(change).await?;
        let session = Session {
            user,
            csrf_token,
            expires_at_us,
        };
        self.cache
            .lock()
            .expect("sessions")
            .insert(hash(&secret), session.clone());
        Ok((secret, session))
    }

    /// The live session of a cookie secret.
    pub async fn session(
        &self,
        store: &Store,
        secret: &str,
        at_us: i64,
    ) -> Result<Session, CaseError> {
        if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CaseError::Unauthenticated);
        }
        let key = hash(secret);
        let cached = self.cache.lock().expect("sessions").get(&key).cloned();
        let session = match cached {
            Some(session) => session,
            None => {
                let row = sqlx::query(
                    "SELECT u.id, u.name, u.role, u.territory, u.department_id, u.active, s.csrf_token, s.expires_at_us
                     FROM session s JOIN app_user u ON u.id = s.user_id
                     WHERE s.id_hash = $1 AND s.revoked = 0 AND u.active = 1",
                )
                .bind(key.as_str())
                .fetch_optional(store.reader())
                .await?
                .ok_or(CaseError::Unauthenticated)?;
                let session = Session {
                    user: super::users::user_from_columns(&row, 0)?,
                    csrf_token: row.try_get(6)?,
                    expires_at_us: row.try_get(7)?,
                };
                self.cache
                    .lock()
                    .expect("sessions")
                    .insert(key, session.clone());
                session
            }
        };
        if session.expires_at_us <= at_us {
            return Err(CaseError::Unauthenticated);
        }
        Ok(session)
    }

    /// Ends a session.
    pub async fn logout(
        &self,
        store: &Store,
        secret: &str,
        origin: &str,
        at_us: i64,
    ) -> Result<(), CaseError> {
        let session = self.session(store, secret, at_us).await?;
        let key = hash(secret);
        let change = Change::new()
            .statement(
                Statement::new("UPDATE session SET revoked = 1 WHERE id_hash = $1")
                    .bind(key.clone()),
            )
            .audit(AuditRecord {
                at_us,
                actor: format!("user:{}", session.user.id),
                actor_role: session.user.role.as_str().into(),
                action: "session.logout".into(),
                subject_kind: "user".into(),
                subject_id: session.user.id.clone(),
                origin: origin.into(),
                before: None,
                after: None,
            });
        store.write(change).await?;
        self.cache.lock().expect("sessions").remove(&key);
        Ok(())
    }

    /// Forgets cached sessions (after a user is revoked).
    pub fn forget_all(&self) {
        self.cache.lock().expect("sessions").clear();
    }
}
