-- 004_compact_results: one row of outcomes per graded entity instead of one row per result.
-- grades.outcomes holds a code per check of the grading, in grading_checks order
-- (P pass, F fail, U unknown, E error, X exempt, NULL not applicable); result_details holds
-- what unknown and error results say (missing facts, the error). check_results stays, as a
-- view with the same columns, so every reader keeps working.

drop view check_evidence;
drop table check_results;

alter table grades add column outcomes varchar[];

create table grading_checks (
    grading_id   varchar not null,
    pos          integer not null,        -- 1-based position in grades.outcomes
    check_id     varchar not null,
    level        varchar not null,
    level_index  integer not null,
    weight       double not null
);

create table result_details (
    grading_id     varchar not null,
    entity_ref     varchar not null,
    check_id       varchar not null,
    missing_facts  varchar[],             -- unknown: the facts that were absent
    error          varchar                -- error: what SQL said
);

create view check_results as
select
    g.grading_id,
    g.run_id,
    g.entity_ref,
    c.check_id,
    case g.code
        when 'P' then 'pass'
        when 'F' then 'fail'
        when 'U' then 'unknown'
        when 'E' then 'error'
        when 'X' then 'exempt'
    end as outcome,
    d.missing_facts,
    d.error
from (
    select grading_id, run_id, entity_ref, unnest(outcomes) as code, unnest(range(1, len(outcomes) + 1)) as pos
    from grades
) g
join grading_checks c on c.grading_id = g.grading_id and c.pos = g.pos
left join result_details d on d.grading_id = g.grading_id and d.entity_ref = g.entity_ref and d.check_id = c.check_id
where g.code is not null;

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
left join facts f on f.run_id = r.run_id and f.entity_ref = r.entity_ref and f.fact = cf.fact
    and f.observed_at = (
        select max(f2.observed_at) from facts f2
        where f2.run_id = r.run_id and f2.entity_ref = r.entity_ref and f2.fact = cf.fact and f2.observed_at <= g.as_of
    );
