-- +goose Up
-- The same schema as migrations/sqlite/00001_init.sql, in PostgreSQL's
-- types; TestSchemasMatch keeps the two in step. Times are unix
-- milliseconds (BIGINT) in both.

-- The inbox: every webhook delivery, stored before it is answered.
CREATE TABLE deliveries (
    seq          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source       TEXT    NOT NULL,
    delivery_id  TEXT    NOT NULL,
    event        TEXT    NOT NULL DEFAULT '',
    received_at  BIGINT  NOT NULL,
    body         BYTEA   NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'pending',
    reason       TEXT    NOT NULL DEFAULT '',
    subject      TEXT    NOT NULL DEFAULT '',
    attempts     INTEGER NOT NULL DEFAULT 0,
    processed_at BIGINT,
    UNIQUE (source, delivery_id)
);
CREATE INDEX deliveries_by_status ON deliveries (status, seq);
CREATE INDEX deliveries_by_subject ON deliveries (subject) WHERE status = 'deferred';

-- Vendor events already applied, so that a redelivery under a new
-- delivery id has no second effect.
CREATE TABLE processed_events (
    source   TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (source, event_id)
);

CREATE TABLE incidents (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title           TEXT   NOT NULL,
    status          TEXT   NOT NULL,
    kind            TEXT   NOT NULL,
    severity        TEXT   NOT NULL,
    service         TEXT   NOT NULL,
    correlation_key TEXT   NOT NULL,
    commander       TEXT   NOT NULL DEFAULT '',
    opened_at       BIGINT NOT NULL,
    acknowledged_at BIGINT,
    resolved_at     BIGINT,
    updated_at      BIGINT NOT NULL,
    -- Pages, responders and the rest of the record's state, as JSON.
    state           TEXT   NOT NULL
);
CREATE INDEX incidents_active ON incidents (correlation_key, status, opened_at);
CREATE INDEX incidents_by_service_time ON incidents (service, opened_at);
CREATE INDEX incidents_by_service ON incidents (service, id);

-- Which record each PagerDuty incident belongs to.
CREATE TABLE incident_pages (
    page_id     TEXT   PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id)
);

-- An entry key is unique per record: a page event lands on one record,
-- a change may land on several, once each.
CREATE TABLE timeline (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    entry_key   TEXT   NOT NULL,
    at          BIGINT NOT NULL,
    source      TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    summary     TEXT   NOT NULL,
    url         TEXT   NOT NULL DEFAULT '',
    UNIQUE (incident_id, entry_key)
);
CREATE INDEX timeline_by_incident ON timeline (incident_id, at, seq);

-- The change log: deploys, merges, releases, pushes and deploy-workflow
-- runs of each service, kept whether or not an incident is open.
CREATE TABLE changes (
    change_key TEXT   PRIMARY KEY,
    service    TEXT   NOT NULL,
    kind       TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    -- The rest of the change, as JSON.
    doc        TEXT   NOT NULL
);
CREATE INDEX changes_by_service ON changes (service, at);

CREATE TABLE incident_changes (
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    change_key  TEXT   NOT NULL REFERENCES changes (change_key),
    PRIMARY KEY (incident_id, change_key)
);

-- +goose Down
DROP TABLE incident_changes;
DROP TABLE changes;
DROP TABLE timeline;
DROP TABLE incident_pages;
DROP TABLE incidents;
DROP TABLE processed_events;
DROP TABLE deliveries;
