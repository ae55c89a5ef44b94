-- gate_min_level: graded entities below level index $2 in grading $1 that match the gate's
-- condition (<where> is the gate's `where`, an expression validated like a check's).
select g.entity_ref, coalesce(g.level, 'none')
from grades g
join eh_wide w on w.entity_ref = g.entity_ref
where g.grading_id = $1 and g.level_index < $2 and coalesce(({where}), false)
order by g.entity_ref
