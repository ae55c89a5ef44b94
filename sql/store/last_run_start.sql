-- last_run_start: when the last run of pipeline $1 started (null when it never ran).
select max(started_at) from runs where pipeline = $1
