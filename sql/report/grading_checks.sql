-- grading_checks: the checks of grading $1 in the order of grades.outcomes.
select pos, check_id from grading_checks where grading_id = $1 order by pos
