-- end_run: closes a run record with its counts and summary (in the load transaction).
update runs set status = ?, finished_at = ?, entities = ?, relations = ?, facts = ?, errors = ?, warnings = ?, message = ?, summary = ? where run_id = ?
