-- mark_interrupted: runs left running by a process that died are failed (the caller holds the lock, so none is alive).
update runs set status = 'failed', message = 'interrupted: the process stopped before the run finished', finished_at = coalesce(finished_at, started_at) where status = 'running'
