-- pick_run: the run named ($1 = $2), or when $1 is null the completed run with the newest
-- facts (`as_of`; a replay of a past date is not "latest" because it ran last).
select run_id, as_of from runs where status in ('ok', 'partial') and (? is null or run_id = ?) order by as_of desc, started_at desc, run_id desc limit 1
