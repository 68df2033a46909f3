-- +goose Up
-- The records a change is attached to, found by the change: a deployment
-- whose time moves (its first success comes later) is taken off the
-- records it no longer belongs on when it is decided, rather than when
-- each of them is next paged (docs/decisions.md §5).
CREATE INDEX incident_changes_by_change ON incident_changes (change_key, incident_id);

-- +goose Down
DROP INDEX incident_changes_by_change;
