-- rollups (table export): the roll-ups of grading <grading>.
select grading_id, run_id, scope, scope_ref, entities, levels::varchar as levels, mean_score, mean_coverage, weighted_mean_score,
    failing_checks::varchar as failing_checks, worst::varchar as worst
from rollups
where grading_id = {grading}
order by scope, scope_ref
