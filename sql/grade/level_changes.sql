-- level_changes: components whose level differs between grading $1 (before) and $2 (after).
select n.entity_ref, e.owner_ref, coalesce(o.level, 'none'), coalesce(n.level, 'none'), n.level_index - coalesce(o.level_index, -1)
from grades n
join entities e on e.run_id = n.run_id and e.entity_ref = n.entity_ref
left join grades o on o.grading_id = ? and o.entity_ref = n.entity_ref
where n.grading_id = ? and e.kind = 'Component' and coalesce(o.level_index, -1) <> n.level_index
order by 5, 1
