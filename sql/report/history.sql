-- history: the run gradings of pipeline $1 up to run start $2 (the latest $3, newest first).
select r.run_id, r.started_at::varchar, g.grading_id, coalesce(g.levels::varchar, '{}'), g.mean_score, g.mean_coverage
from runs r
join gradings g on g.run_id = r.run_id and g.kind = 'run'
where r.pipeline = $1 and r.started_at <= $2::timestamp
order by r.started_at desc
limit $3
