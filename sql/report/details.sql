-- details: what unknown and error results say (missing facts, the error) in grading $1.
select entity_ref, check_id, coalesce(array_to_string(missing_facts, ', '), ''), error
from result_details
where grading_id = $1
