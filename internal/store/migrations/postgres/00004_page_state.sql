-- +goose Up
-- Each page's state, as JSON, and its place among its record's pages: a
-- storm's delivery writes its own page, not every page of the record
-- (docs/performance.md). Records saved before keep their pages in their
-- own state until their next save moves them here.
ALTER TABLE incident_pages ADD COLUMN ordinal INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incident_pages ADD COLUMN state TEXT;
CREATE INDEX incident_pages_by_record ON incident_pages (incident_id, ordinal);

-- +goose Down
DROP INDEX incident_pages_by_record;
ALTER TABLE incident_pages DROP COLUMN state;
ALTER TABLE incident_pages DROP COLUMN ordinal;
