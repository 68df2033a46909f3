-- +goose Up
-- Follow-ups: work a review asked for, and the Jira ticket that tracks it.
CREATE TABLE followups (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id  BIGINT NOT NULL REFERENCES incidents (id),
    -- What asked for it (a comment line, a task-list item, an adopted
    -- ticket): the same request is never recorded twice.
    followup_key TEXT   NOT NULL UNIQUE,
    status       TEXT   NOT NULL,
    jira_id      TEXT   NOT NULL DEFAULT '',
    requested_at BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    -- The rest of the follow-up, as JSON.
    doc          TEXT   NOT NULL
);
CREATE INDEX followups_by_incident ON followups (incident_id, id);
CREATE UNIQUE INDEX followups_by_ticket ON followups (jira_id) WHERE jira_id <> '';
CREATE INDEX followups_by_status ON followups (status, requested_at);

-- +goose Down
DROP TABLE followups;
