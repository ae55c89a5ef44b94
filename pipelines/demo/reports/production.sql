-- Production components of the run ($1) with their grade in the grading ($2), lowest first.
select e.name as component, e.owner_ref as owner, coalesce(g.level, 'none') as level,
    round(g.score, 2) as score, round(g.coverage, 2) as coverage, g.failed as failing_checks,
    (select max(f.observed_at) from facts f where f.run_id = e.run_id and f.entity_ref = e.entity_ref) as newest_fact
from entities e
join grades g on g.grading_id = $2 and g.entity_ref = e.entity_ref
where e.run_id = $1 and e.kind = 'Component' and e.lifecycle = 'production'
order by g.level_index, g.score nulls first, e.name
