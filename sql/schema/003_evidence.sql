-- 003_evidence: evidence of check results without copying facts into every result.
-- A result's evidence is the facts its check reads, as stored with the run (immutable),
-- at the latest observation at or before the grading's as-of time: value, source, time.
-- check_results no longer stores not_applicable rows (a check with no row for an entity
-- does not apply to it) nor an evidence copy.

alter table check_results drop column evidence;

create table grading_check_facts (
    grading_id  varchar not null,
    check_id    varchar not null,
    fact        varchar not null
);

create view check_evidence as
select
    r.grading_id,
    r.run_id,
    r.entity_ref,
    r.check_id,
    r.outcome,
    cf.fact,
    f.value_type,
    f.value_num,
    f.value_bool,
    f.value_text,
    f.value_json,
    f.source,
    f.observed_at,
    f.evidence
from check_results r
join gradings g on g.grading_id = r.grading_id
join grading_check_facts cf on cf.grading_id = r.grading_id and cf.check_id = r.check_id
left join (
    select run_id, entity_ref, fact, value_type, value_num, value_bool, value_text, value_json, source, observed_at, evidence
    from facts
) f on f.run_id = r.run_id and f.entity_ref = r.entity_ref and f.fact = cf.fact
    and f.observed_at = (
        select max(f2.observed_at) from facts f2
        where f2.run_id = r.run_id and f2.entity_ref = r.entity_ref and f2.fact = cf.fact and f2.observed_at <= g.as_of
    );

-- What grading reads of each entity, computed once at load time from the merged catalog
-- instead of parsing the raw JSON and joining relations at every grading.
alter table entities add column description varchar;
alter table entities add column links json;                  -- metadata.links, [] when none
alter table entities add column spec json;
alter table entities add column depends_on json;             -- refs, sorted
alter table entities add column provides_apis json;
alter table entities add column consumes_apis json;
alter table entities add column deprecated_dependencies integer;  -- dependsOn targets whose lifecycle is deprecated
alter table entities add column dangling_refs integer;       -- refs in spec to entities not in the catalog
