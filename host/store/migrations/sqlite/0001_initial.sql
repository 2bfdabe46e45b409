-- Version 1: keys, teams, users, end users and spend records.
-- Entities: a few indexed columns, everything else in the JSON `body`.
-- Deletes are soft (deleted_ms) so pollers of updated_ms see them.

CREATE TABLE keys (
    token_hash TEXT PRIMARY KEY NOT NULL,
    key_alias TEXT,
    team_id TEXT,
    user_id TEXT,
    body TEXT NOT NULL,
    spend REAL NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    deleted_ms BIGINT
);
CREATE INDEX keys_updated_ms ON keys (updated_ms);
CREATE INDEX keys_key_alias ON keys (key_alias);
CREATE INDEX keys_team_id ON keys (team_id);
CREATE INDEX keys_user_id ON keys (user_id);

CREATE TABLE teams (
    team_id TEXT PRIMARY KEY NOT NULL,
    team_alias TEXT,
    body TEXT NOT NULL,
    spend REAL NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    deleted_ms BIGINT
);
CREATE INDEX teams_updated_ms ON teams (updated_ms);
CREATE INDEX teams_team_alias ON teams (team_alias);

CREATE TABLE users (
    user_id TEXT PRIMARY KEY NOT NULL,
    user_email TEXT,
    body TEXT NOT NULL,
    spend REAL NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    deleted_ms BIGINT
);
CREATE INDEX users_updated_ms ON users (updated_ms);
CREATE INDEX users_user_email ON users (user_email);

CREATE TABLE end_users (
    user_id TEXT PRIMARY KEY NOT NULL,
    alias TEXT,
    body TEXT NOT NULL,
    spend REAL NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    deleted_ms BIGINT
);
CREATE INDEX end_users_updated_ms ON end_users (updated_ms);
CREATE INDEX end_users_alias ON end_users (alias);

-- One row per request. request_id is unique so a replayed batch
-- (INSERT .. ON CONFLICT DO NOTHING) is counted once.
CREATE TABLE spend (
    request_id TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT NOT NULL,
    day TEXT NOT NULL,
    key_hash TEXT,
    key_alias TEXT,
    user_id TEXT,
    team_id TEXT,
    end_user TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}',
    model_group TEXT,
    deployment TEXT,
    provider TEXT,
    status BIGINT NOT NULL,
    error_kind TEXT,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens BIGINT NOT NULL DEFAULT 0,
    cost REAL,
    estimated BIGINT NOT NULL DEFAULT 0,
    cache_hit BIGINT NOT NULL DEFAULT 0,
    attempts BIGINT NOT NULL DEFAULT 1,
    fallbacks BIGINT NOT NULL DEFAULT 0,
    overhead_ms REAL NOT NULL DEFAULT 0,
    latency_ms REAL NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX spend_request_id ON spend (request_id);
CREATE INDEX spend_start_ms ON spend (start_ms);
CREATE INDEX spend_key_hash ON spend (key_hash);
CREATE INDEX spend_team_id ON spend (team_id);
CREATE INDEX spend_user_id ON spend (user_id);
CREATE INDEX spend_end_user ON spend (end_user);
