-- API keys for systems (Open311 clients, sensor gateways, the hotline's system): each acts as a
-- user (whose role and territory apply), carries scopes and a rate limit, is stored only as the
-- SHA-256 of its secret, and can be revoked.
CREATE TABLE api_key (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES app_user (id),
    key_hash       TEXT NOT NULL UNIQUE,
    scopes         TEXT NOT NULL,
    rate_per_minute BIGINT NOT NULL,
    active         BIGINT NOT NULL,
    created_at_us  BIGINT NOT NULL
);
