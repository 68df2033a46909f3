-- +goose Up
-- The pseudonym each person was given by `incidenthub export`, by every
-- spelling they were known by (lower case): a person is the same
-- Person N in every export, whatever period it covers and whenever it
-- is made (docs/decisions.md §18).
CREATE TABLE pseudonyms (
    spelling TEXT PRIMARY KEY,
    number   INTEGER NOT NULL
);

-- +goose Down
DROP TABLE pseudonyms;
