-- rollup_history: mean score per scope in the gradings listed ($1: a list of grading ids).
select grading_id, scope, scope_ref, mean_score
from rollups
where list_contains($1::varchar[], grading_id)
