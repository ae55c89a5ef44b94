-- bench_history_runs: $3 weekly runs of pipeline $2 before run $1 (the migration benchmark).
insert into runs (run_id, pipeline, pipeline_file, started_at, status, as_of)
select 'hist-' || lpad(w::varchar, 3, '0'), $2, 'bench', r.as_of - to_weeks($3 - w), 'ok', r.as_of - to_weeks($3 - w)
from runs r, range($3) t(w)
where r.run_id = $1
