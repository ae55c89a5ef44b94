-- The migration definitions a run evaluated (so pages re-render from the database alone,
-- with the wording and dates of that run).
CREATE TABLE migration_defs (
    run_id       VARCHAR NOT NULL,
    migration_id VARCHAR NOT NULL,
    title        VARCHAR NOT NULL,
    description  VARCHAR NOT NULL,
    owner        VARCHAR,            -- the team driving it (an entity ref)
    start_date   DATE,
    deadline     DATE NOT NULL,
    applies_to   VARCHAR NOT NULL,   -- the expressions as written
    done         VARCHAR NOT NULL,
    started      VARCHAR,
    done_facts   JSON NOT NULL,      -- facts `done` reads: the evidence of what is left
    defined_at   VARCHAR NOT NULL,   -- file:line
    PRIMARY KEY (run_id, migration_id)
);
