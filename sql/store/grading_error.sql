-- grading_error: a problem of a run's grading (a check failing on rows, an exemption naming an unknown entity), stored with the run's errors. $1 run, $2 message.
insert into errors (run_id, stage, source, kind, severity, message) values (?, 'grade', 'grading', 'check', 'error', ?)
