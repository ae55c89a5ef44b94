-- new_failures: checks failing in grading $2 that did not fail in grading $1 (before: pass,
-- unknown, exempt, error or not graded), with the component's owner.
select n.entity_ref, e.owner_ref, n.check_id, coalesce(o.outcome, 'not graded')
from check_results n
join entities e on e.run_id = n.run_id and e.entity_ref = n.entity_ref
left join check_results o on o.grading_id = $1 and o.entity_ref = n.entity_ref and o.check_id = n.check_id
where n.grading_id = $2 and n.outcome = 'fail' and o.outcome is distinct from 'fail'
order by n.check_id, n.entity_ref
