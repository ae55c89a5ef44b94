-- run: the run a site is rendered from ($1 run).
select run_id, pipeline, started_at::varchar, coalesce(finished_at::varchar, ''), status, as_of::varchar, entities, facts, errors, warnings
from runs
where run_id = $1
