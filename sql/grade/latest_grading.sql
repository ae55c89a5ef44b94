-- latest_grading: the most recent grading of run $1.
select grading_id from gradings where run_id = ? order by created_at desc limit 1
