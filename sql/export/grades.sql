-- grades (table export): the grade of every graded entity in grading <grading>.
select grading_id, run_id, entity_ref, level, level_index, score, coverage, passed, failed, unknown, exempt, applicable, next_level, outcomes
from grades
where grading_id = {grading}
order by entity_ref
