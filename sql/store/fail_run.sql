-- fail_run: a run that could not complete. $1 message, $2 finish time, $3 run.
update runs set status = 'failed', message = ?, finished_at = ? where run_id = ?
