-- 001_init: runs and everything a run loads (entities, relations, facts, errors, descriptor verdicts).
-- Every table except runs is keyed by run_id: each run appends, nothing is updated in place.
-- Times are UTC (timestamp without time zone). JSON columns hold JSON text.

create table runs (
    run_id        varchar primary key,   -- sortable: r<UTC start yyyymmddThhmmss>-<pid>
    pipeline      varchar not null,      -- pipeline name
    pipeline_file varchar not null,      -- absolute path of the pipeline file
    started_at    timestamp not null,
    finished_at   timestamp,
    status        varchar not null,      -- running | ok | partial | failed
    as_of         timestamp not null,    -- the time the run grades facts at (= started_at unless replayed)
    entities      integer,
    relations     integer,
    facts         integer,
    errors        integer,               -- problems of severity error
    warnings      integer,
    message       varchar,               -- why a run failed
    summary       json                   -- counts per source and per error class
);

create table entities (
    run_id           varchar not null,
    entity_ref       varchar not null,   -- kind:namespace/name, lower-cased
    kind             varchar not null,   -- as written (Component, API, ...)
    namespace        varchar not null,
    name             varchar not null,   -- as written
    title            varchar,
    spec_type        varchar,
    lifecycle        varchar,
    owner_ref        varchar,
    system_ref       varchar,
    domain_ref       varchar,            -- the domain named by the entity or its system
    root_domain_ref  varchar,            -- that domain's top-level ancestor
    team_chain       json,               -- owning group then its ancestors, nearest first
    tags             json,
    annotations      json,
    source_file      varchar not null,
    source_doc       integer not null,
    source_line      integer not null,
    augmented_by     json,               -- augmentation documents merged into it
    raw              json not null       -- the entity in Backstage's JSON shape (without relations)
);

create table relations (
    run_id      varchar not null,
    source_ref  varchar not null,
    type        varchar not null,        -- ownedBy, partOf, dependsOn, ... (Backstage's names)
    target_ref  varchar not null
);

create table facts (
    run_id       varchar not null,
    entity_ref   varchar not null,
    source       varchar not null,       -- file:<path>, prometheus, github, ...
    fact         varchar not null,       -- dotted name, e.g. ci.test_coverage_pct
    value_type   varchar not null,       -- number | boolean | text | json
    value_num    double,
    value_bool   boolean,
    value_text   varchar,
    value_json   json,
    observed_at  timestamp not null,
    evidence     varchar not null
);

create table errors (
    run_id      varchar not null,
    stage       varchar not null,        -- catalog | facts | run
    source      varchar not null,        -- catalog source or fact source name
    kind        varchar not null,        -- yaml, invalid, dangling-ref, bad-record, unavailable, ...
    severity    varchar not null,        -- error | warning
    file        varchar,
    line        integer,
    entity_ref  varchar,
    message     varchar not null
);

create table documents (
    run_id      varchar not null,
    file        varchar not null,
    doc         integer not null,        -- 0-based position in the file
    line        integer not null,
    status      varchar not null,        -- valid | invalid | unknown-kind | yaml-error
    entity_ref  varchar,
    error       varchar
);
