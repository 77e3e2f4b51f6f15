-- Console logins: users may have a login name and an Argon2id password hash; a session is a
-- random secret (stored as its SHA-256) with a CSRF token, an expiry and a revocation mark.
ALTER TABLE app_user ADD COLUMN login TEXT;
ALTER TABLE app_user ADD COLUMN password_hash TEXT;
CREATE UNIQUE INDEX app_user_login ON app_user (login);

CREATE TABLE session (
    id_hash        TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES app_user (id),
    csrf_token     TEXT NOT NULL,
    created_at_us  INTEGER NOT NULL,
    expires_at_us  INTEGER NOT NULL,
    revoked        INTEGER NOT NULL
);
CREATE INDEX session_of_user ON session (user_id);
