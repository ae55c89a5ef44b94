-- unchanged_since: when the newest run of pipeline $1 (by start) found nothing changed: its id, start, and the run it matched.
select r.run_id, r.started_at::varchar, coalesce(r.summary->>'same_as', '')
from (select * from runs where pipeline = $1 order by started_at desc limit 1) r
where r.status = 'unchanged'
