-- outcome_changes: checks of entity $2 whose outcome changed between grading $3 (before) and $1 (after) in a way that matters.
select coalesce(n.check_id, o.check_id), coalesce(o.outcome, 'not in pack'), coalesce(n.outcome, 'not in pack')
from (select * from check_results where grading_id = ? and entity_ref = ?) n
full join (select * from check_results where grading_id = ? and entity_ref = ?) o on o.check_id = n.check_id
where n.outcome is distinct from o.outcome
and (n.outcome in ('fail', 'unknown', 'error') or o.outcome in ('fail', 'unknown', 'error'))
order by 1
