-- sources: per fact source of run $1: facts, entities covered, oldest and newest observation.
select source, count(*), count(distinct entity_ref), min(observed_at)::varchar, max(observed_at)::varchar
from facts
where run_id = $1
group by source
order by source
