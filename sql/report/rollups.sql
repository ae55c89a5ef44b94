-- rollups: the roll-ups of grading $1 (JSON columns as text).
select scope, scope_ref, entities, levels::varchar, mean_score, mean_coverage, weighted_mean_score, failing_checks::varchar, worst::varchar
from rollups
where grading_id = $1
