-- run_as_of: the time run $1 grades facts at.
select as_of from runs where run_id = ?
