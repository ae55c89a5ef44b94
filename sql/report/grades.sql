-- grades: every graded entity of grading $1 with its outcome codes (one per check, in
-- grading_checks order).
select entity_ref, level_index, score, coverage, passed, failed, unknown, exempt, applicable, outcomes
from grades
where grading_id = $1
