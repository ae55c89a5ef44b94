-- metric_grades: graded components of grading $1 (run $2) with their owner, system and
-- domain, for the OpenMetrics export.
select g.entity_ref, e.owner_ref, e.system_ref, e.domain_ref, g.level_index, g.score, g.coverage
from grades g
join entities e on e.run_id = $2 and e.entity_ref = g.entity_ref
where g.grading_id = $1 and e.kind = 'Component'
order by g.entity_ref
