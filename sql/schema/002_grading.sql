-- 002_grading: gradings of runs (the run's own, and regrades with later checks), each
-- check result with its evidence, the grade of each entity, roll-ups, exemptions seen.

create table gradings (
    grading_id     varchar primary key,   -- <run_id>/g<n>: g1 is the run's own grading
    run_id         varchar not null,
    kind           varchar not null,      -- run | regrade
    created_at     timestamp not null,
    as_of          timestamp not null,    -- facts observed up to this time were graded
    ladder         json not null,         -- level names, lowest first
    checks         json not null,         -- id, title, level, weight, applies_to, pass of every check
    pack_files     json not null,
    entities       integer,               -- entities with at least one applicable check
    levels         json,                  -- {"<level>": count, ..., "none": count}
    mean_score     double,
    mean_coverage  double,
    gates          json                   -- every gate with its verdict
);

create table check_results (
    grading_id     varchar not null,
    run_id         varchar not null,
    entity_ref     varchar not null,
    check_id       varchar not null,      -- level, weight, expressions: in gradings.checks
    outcome        varchar not null,      -- pass | fail | unknown | error | exempt (not applicable: no row)
    missing_facts  varchar[],             -- for unknown: the facts that were absent
    evidence       json,                  -- facts read: value, source, observed_at; catalog fields read
    error          varchar                -- for error: what SQL said
);

create table grades (
    grading_id     varchar not null,
    run_id         varchar not null,
    entity_ref     varchar not null,
    level          varchar,               -- highest level held; null = none
    level_index    integer not null,      -- -1 = none
    score          double,                -- weighted pass share among pass/fail; null when none known
    coverage       double not null,       -- share of applicable checks with a known outcome
    passed         integer not null,
    failed         integer not null,
    unknown        integer not null,      -- unknown and error
    exempt         integer not null,
    applicable     integer not null,
    next_level     varchar,               -- the level above, if any
    next_missing   json                   -- [{check_id, outcome, missing_facts}] holding the next level back
);

create table rollups (
    grading_id          varchar not null,
    run_id              varchar not null,
    scope               varchar not null,  -- domain | system | team
    scope_ref           varchar not null,
    entities            integer not null,
    levels              json not null,
    mean_score          double,
    mean_coverage       double,
    weighted_mean_score double,            -- weighted by the pipeline's weight fact, when set
    failing_checks      json not null,     -- {check_id: entities failing it}
    worst               json not null      -- up to 5 entities: lowest level, then lowest score
);

create table exemptions (
    grading_id     varchar not null,
    entity_ref     varchar not null,
    check_id       varchar not null,
    reason         varchar not null,
    approver       varchar not null,
    justification  varchar not null,
    expires        date not null,
    status         varchar not null,      -- active | expired | unknown-entity
    file           varchar not null,
    line           integer not null
);
