-- runs: every run with its status, oldest first.
select run_id, status from runs order by started_at, run_id
