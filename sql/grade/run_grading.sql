-- run_grading: a run's own grading (not a regrade). $1 run.
select grading_id from gradings where run_id = ? and kind = 'run' order by grading_id limit 1
