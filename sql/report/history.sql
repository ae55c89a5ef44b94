-- history: the run gradings of pipeline $1 with facts taken up to $2 (the latest $3, newest
-- first), dated by the time their facts were taken (`as_of`: the start of a run, or the date
-- a replay graded).
select r.run_id, r.as_of::varchar, g.grading_id, coalesce(g.levels::varchar, '{}'), g.mean_score, g.mean_coverage
from runs r
join gradings g on g.run_id = r.run_id and g.kind = 'run'
where r.pipeline = $1 and r.as_of <= $2::timestamp
order by r.as_of desc, r.started_at desc
limit $3
