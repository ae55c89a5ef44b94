-- metric_rollups: the roll-ups of grading $1 for the OpenMetrics export.
select scope, scope_ref, entities, mean_score, mean_coverage from rollups where grading_id = $1 order by scope, scope_ref
