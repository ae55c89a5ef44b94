-- begin_run: records the start of a run before anything is collected. $1 run, $2 pipeline, $3 file, $4 start, $5 as of.
insert into runs (run_id, pipeline, pipeline_file, started_at, status, as_of) values (?, ?, ?, ?, 'running', ?)
