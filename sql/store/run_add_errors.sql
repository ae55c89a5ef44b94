-- run_add_errors: counts grading problems in a run's record; an ok run becomes partial. $1 count, $2 run.
update runs set errors = errors + ?, status = case when status = 'ok' then 'partial' else status end where run_id = ?
