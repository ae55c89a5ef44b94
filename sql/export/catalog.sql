-- catalog: every entity of run $1 in Backstage's JSON shape, with its grade in grading $2
-- (NULL when not graded), sorted by ref.
select e.entity_ref, e.raw::varchar, g.level_index, g.level, g.score, g.coverage
from entities e
left join grades g on g.grading_id = $2 and g.entity_ref = e.entity_ref
where e.run_id = $1
order by e.entity_ref
