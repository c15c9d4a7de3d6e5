-- feedbridge schema 1: sources (state, feed, leases), seen keys, delivery marks, the outbox.
-- Times are epoch seconds (double precision): the processes' clocks, not the server's.

CREATE TABLE sources (
    name          text PRIMARY KEY,
    state         jsonb NOT NULL DEFAULT '{}',
    feed          jsonb NOT NULL DEFAULT '[]',
    feed_version  bigint NOT NULL DEFAULT 0,  -- rises with every change: nodes reload the feed
    next_due      double precision NOT NULL,
    lease_owner   text,
    lease_until   double precision,
    lease_version bigint NOT NULL DEFAULT 0
);
CREATE INDEX sources_next_due ON sources (next_due);

CREATE TABLE seen (
    source  text NOT NULL,
    key     text NOT NULL,
    score   double precision,
    expires double precision NOT NULL,
    PRIMARY KEY (source, key)
);
CREATE INDEX seen_expires ON seen (expires);

-- keys queued, sent or suppressed (first run) per target: never queued twice
CREATE TABLE handed (
    target  text NOT NULL,
    source  text NOT NULL,
    key     text NOT NULL,
    how     text NOT NULL,
    expires double precision NOT NULL,
    PRIMARY KEY (target, source, key)
);
CREATE INDEX handed_expires ON handed (expires);

-- targets past their first cycle for a source (the first-run policy ran)
CREATE TABLE target_known (
    target text NOT NULL,
    source text NOT NULL,
    PRIMARY KEY (target, source)
);

-- one row per target: its state, and the lease of the node delivering its outbox
CREATE TABLE targets (
    name          text PRIMARY KEY,
    state         jsonb NOT NULL DEFAULT '{}',
    lease_owner   text,
    lease_until   double precision,
    lease_version bigint NOT NULL DEFAULT 0
);

CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    target        text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('entry', 'digest', 'health')),
    key           text NOT NULL,
    payload       jsonb NOT NULL,
    queued_at     double precision NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    first_attempt_at double precision,
    next_at  double precision NOT NULL DEFAULT 0,
    done_urls     integer[] NOT NULL DEFAULT '{}',
    last_error    text,
    claim_owner   text,
    claim_until   double precision,
    UNIQUE (target, kind, key)
);
CREATE INDEX outbox_target_id ON outbox (target, id);

CREATE TABLE failed (
    id      bigserial PRIMARY KEY,
    target  text NOT NULL,
    kind    text NOT NULL,
    payload jsonb NOT NULL,
    reason  text NOT NULL,
    at      double precision NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    expires double precision NOT NULL
);
CREATE INDEX failed_target ON failed (target, id);
CREATE INDEX failed_expires ON failed (expires);
