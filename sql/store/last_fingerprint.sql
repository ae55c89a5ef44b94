-- last_fingerprint: the newest completed run of pipeline $1 (by as_of), its fingerprint and the gate verdicts of its own grading.
select r.run_id, coalesce(r.summary->>'fingerprint', ''), coalesce((select g.gates::varchar from gradings g where g.run_id = r.run_id and g.kind = 'run' limit 1), '[]')
from runs r
where r.pipeline = ? and r.status in ('ok', 'partial')
order by r.as_of desc, r.started_at desc
limit 1
