//! Where a store lives: an embedded SQLite file in a data folder, or a PostgreSQL URL.

use std::path::{Path, PathBuf};

use crate::StoreError;

/// The storage engine behind a [`crate::Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Where to open a store.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// An embedded SQLite database file.
    Sqlite { path: PathBuf },
    /// A PostgreSQL server, by `postgres://` URL.
    Postgres { url: String },
}

/// The file name of the embedded database inside a data folder.
pub const SQLITE_FILE_NAME: &str = "jingzhi.db";

impl Location {
    /// The embedded database inside the data folder `dir`.
    pub fn data_dir(dir: &Path) -> Location {
        Location::Sqlite {
            path: dir.join(SQLITE_FILE_NAME),
        }
    }

    /// Parses a `--database` URL: `postgres://…`, `postgresql://…` or `sqlite:PATH`.
    pub fn parse_url(url: &str) -> Result<Location, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Location::Postgres {
                url: url.to_owned(),
            });
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(StoreError::BadLocation {
                    location: url.to_owned(),
                    reason: "the sqlite: URL names no file; use sqlite:/path/to/jingzhi.db or --data DIR".into(),
                });
            }
            return Ok(Location::Sqlite {
                path: PathBuf::from(path),
            });
        }
        Err(StoreError::BadLocation {
            location: mask_password(url),
            reason: "unsupported database URL; use postgres://user:password@host:port/database, or sqlite:/path/to/file.db, or --data DIR for the embedded database".into(),
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Location::Sqlite { .. } => Backend::Sqlite,
            Location::Postgres { .. } => Backend::Postgres,
        }
    }

    /// The location as it may be shown to people and logs: any password is masked.
    pub fn display_masked(&self) -> String {
        match self {
            Location::Sqlite { path } => format!("sqlite:{}", path.display()),
            Location::Postgres { url } => mask_password(url),
        }
    }
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display_masked())
    }
}

/// Replaces the password of a `scheme://user:password@host/…` URL with `***`.
pub fn mask_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        for (url, masked) in [
            (
                "postgres://jz:s3cret@db:5432/city",
                "postgres://jz:***@db:5432/city",
            ),
            ("postgres://jz:p@ss@db/city", "postgres://jz:***@db/city"),
            ("postgres://jz@db/city", "postgres://jz@db/city"),
            ("postgres://db/city?user=a", "postgres://db/city?user=a"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(mask_password(url), masked, "{url}");
        }
    }

    #[test]
    fn urls_select_the_engine() {
        assert_eq!(
            Location::parse_url("postgresql://h/db").unwrap().backend(),
            Backend::Postgres
        );
        assert_eq!(
            Location::parse_url("sqlite:/tmp/x.db").unwrap(),
            Location::Sqlite {
                path: "/tmp/x.db".into()
            }
        );
        let error = Location::parse_url("mysql://u:pw@h/db")
            .unwrap_err()
            .to_string();
        assert!(error.contains("mysql://u:***@h/db"), "{error}");
        assert!(!error.contains("pw"), "{error}");
        assert!(Location::parse_url("sqlite:").is_err());
    }
}
