-- What HTTP sources keep between runs so an unchanged answer costs nothing: validators
-- (ETag) with the body they validate, per-repository snapshots and the organisation
-- watermarks of the GitHub source. A cache, not history: one row per (source, key), replaced
-- in the run's own transaction (a run that fails to load leaves the previous rows).
CREATE TABLE source_cache (
    source     VARCHAR NOT NULL,   -- the source's name in the pipeline
    key        VARCHAR NOT NULL,   -- `GET /repos/o/r/...`, `repo:o/r`, `org:o`
    etag       VARCHAR,            -- the validator GitHub sent (conditional requests)
    body       VARCHAR NOT NULL,   -- the answer or snapshot (JSON text)
    fetched_at TIMESTAMP NOT NULL,   -- UTC
    run_id     VARCHAR NOT NULL,   -- the run that fetched it
    PRIMARY KEY (source, key)
);
