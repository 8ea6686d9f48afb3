-- Accounts, their sessions (refresh-token families), single-use mail tokens
-- and failed-login records. Ids are UUID text; times are UTC.

CREATE TABLE accounts (
    id                TEXT PRIMARY KEY NOT NULL,
    email             TEXT NOT NULL UNIQUE,
    password_hash     TEXT NOT NULL,
    display_name      TEXT NOT NULL,
    phone             TEXT,
    -- A JSON array of postal addresses: a value list of the profile.
    addresses         TEXT NOT NULL DEFAULT '[]',
    language          TEXT NOT NULL DEFAULT 'en',
    currency          TEXT NOT NULL DEFAULT 'EUR',
    marketing_opt_in  BOOLEAN NOT NULL DEFAULT FALSE,
    -- Comma-separated role names, e.g. 'customer' or 'admin,support_agent'.
    roles             TEXT NOT NULL,
    active            BOOLEAN NOT NULL DEFAULT TRUE,
    email_verified_at TIMESTAMP,
    erased_at         TIMESTAMP,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
    id                TEXT PRIMARY KEY NOT NULL,
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    user_agent        TEXT,
    created_at        TIMESTAMP NOT NULL,
    last_refreshed_at TIMESTAMP NOT NULL,
    expires_at        TIMESTAMP NOT NULL,
    revoked_at        TIMESTAMP,
    revoked_reason    TEXT
);
CREATE INDEX sessions_by_account ON sessions (account_id);

-- Every refresh token ever issued, by hash. A superseded token presented
-- again means it was stolen: its whole session is revoked.
CREATE TABLE refresh_tokens (
    token_hash    TEXT PRIMARY KEY NOT NULL,
    session_id    TEXT NOT NULL REFERENCES sessions (id),
    issued_at     TIMESTAMP NOT NULL,
    superseded_at TIMESTAMP
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

-- Email-verification and password-reset tokens, stored hashed.
CREATE TABLE one_time_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    purpose    TEXT NOT NULL,
    -- The address the token was mailed to: verifying proves this one.
    email      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE INDEX one_time_tokens_by_account ON one_time_tokens (account_id);

-- Login attempts that count towards the lockout window. Keyed by the
-- normalised email, whether or not an account has it, so the lockout itself
-- reveals nothing.
CREATE TABLE login_failures (
    id        TEXT PRIMARY KEY NOT NULL,
    email     TEXT NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_by_email ON login_failures (email, failed_at);
