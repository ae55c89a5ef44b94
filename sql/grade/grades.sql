-- grades: level, score and coverage of every entity with at least one applicable check,
-- from the staged results of one grading (eh_results, eh_levels); $1 grading, $2 run.
-- An entity holds the highest level L such that no check at L or below is fail, unknown or
-- error; score = weighted pass share among pass/fail; coverage = known share of applicable.
insert into grades
with r as (
    select * from eh_results where outcome <> 'not_applicable'
),
per_entity as (
    select
        entity_ref,
        coalesce(min(level_index) filter (where outcome in ('fail', 'unknown', 'error')), (select count(*) from eh_levels)) - 1 as level_index,
        sum(weight) filter (where outcome = 'pass') as pass_w,
        sum(weight) filter (where outcome in ('pass', 'fail')) as known_w,
        count(*) filter (where outcome = 'pass') as passed,
        count(*) filter (where outcome = 'fail') as failed,
        count(*) filter (where outcome in ('unknown', 'error')) as unknown,
        count(*) filter (where outcome = 'exempt') as exempt,
        count(*) as applicable
    from r
    group by entity_ref
),
next_missing as (
    select
        r.entity_ref,
        to_json(list(json_object('check_id', r.check_id, 'outcome', r.outcome, 'missing_facts', r.missing_facts) order by r.check_id)) as items
    from r
    join per_entity p on p.entity_ref = r.entity_ref
    where r.level_index = p.level_index + 1 and r.outcome in ('fail', 'unknown', 'error')
    group by r.entity_ref
)
select
    $1,
    $2,
    p.entity_ref,
    l.name,
    p.level_index,
    coalesce(p.pass_w, 0) / nullif(p.known_w, 0),
    (p.passed + p.failed + p.exempt) / p.applicable::double,
    p.passed,
    p.failed,
    p.unknown,
    p.exempt,
    p.applicable,
    nl.name,
    coalesce(n.items, '[]'::json)
from per_entity p
left join eh_levels l on l.idx = p.level_index
left join eh_levels nl on nl.idx = p.level_index + 1
left join next_missing n on n.entity_ref = p.entity_ref
