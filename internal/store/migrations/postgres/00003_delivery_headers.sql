-- +goose Up
-- The headers a delivery came with (the vendor's ids, event and signature,
-- content type, user agent), as JSON, for `deliveries show`.
ALTER TABLE deliveries ADD COLUMN headers TEXT NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE deliveries DROP COLUMN headers;
