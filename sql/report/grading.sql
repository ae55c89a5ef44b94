-- grading: the grading a site shows ($1 grading): ladder, checks (JSON text), summary.
select grading_id, kind, as_of::varchar, ladder::varchar, checks::varchar, coalesce(levels::varchar, '{}'), mean_score, mean_coverage, coalesce(gates::varchar, '[]')
from gradings
where grading_id = $1
