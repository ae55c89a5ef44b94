-- exemptions: the exemptions grading $1 saw, with their status.
select entity_ref, check_id, reason, approver, justification, expires::varchar, status, file, line
from exemptions
where grading_id = $1
order by expires, entity_ref, check_id
