-- +goose Up
-- The records a change may belong on are the service's unresolved ones
-- and those resolved since the change: found by this index in two short
-- ranges, rather than by reading every record the service ever opened
-- (BenchmarkCorrelationAtScale, docs/performance.md).
CREATE INDEX incidents_by_service_resolution ON incidents (service, resolved_at);

-- +goose Down
DROP INDEX incidents_by_service_resolution;
