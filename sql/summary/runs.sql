-- runs: the completed runs of pipeline $1 with their own grading, newest facts first (the
-- run summarised and the one before it).
select r.run_id, r.status, r.as_of::varchar, g.grading_id, g.mean_score, coalesce(g.levels::varchar, '{}'), coalesce(g.ladder::varchar, '[]')
from runs r
left join gradings g on g.run_id = r.run_id and g.kind = 'run'
where r.pipeline = $1 and r.status in ('ok', 'partial')
order by r.as_of desc, r.started_at desc
limit 2
