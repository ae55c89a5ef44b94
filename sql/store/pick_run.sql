-- pick_run: the run named ($1 = $2), or the latest completed one when $1 is null.
select run_id, as_of from runs where status in ('ok', 'partial') and (? is null or run_id = ?) order by started_at desc, run_id desc limit 1
