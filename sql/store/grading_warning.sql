-- grading_warning: something a grading left out that a reader should know (facts observed
-- after the grading's as-of time), stored with the run's problems as a warning. $1 run, $2 message.
insert into errors (run_id, stage, source, kind, severity, message) values (?, 'grade', 'grading', 'future-facts', 'warning', ?)
