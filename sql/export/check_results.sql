-- check_results (table export): one row per result of grading <grading>.
select grading_id, run_id, entity_ref, check_id, outcome, array_to_string(missing_facts, ',') as missing_facts, error
from check_results
where grading_id = {grading}
order by entity_ref, check_id
