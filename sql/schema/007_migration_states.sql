-- The state of every component a migration applies to, per run (design §5): not_started,
-- in_progress, done or unknown (a fact `done` reads is missing). `as_of` is the time the
-- facts were taken at (the run's, or the date a replay grades).
CREATE TABLE migration_states (
    run_id       VARCHAR NOT NULL,
    migration_id VARCHAR NOT NULL,
    entity_ref   VARCHAR NOT NULL,
    state        VARCHAR NOT NULL,
    as_of        TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, migration_id, entity_ref)
);
