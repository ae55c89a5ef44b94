-- rollups: per migration of run $1, per domain, per system and per owning team, the
-- components in each state (the progress tables of the migration pages, and the numbers a leader asks for).
select s.migration_id, 'domain' as scope, coalesce(e.domain_ref, '') as scope_ref,
       count(*) as total,
       count(*) filter (where s.state = 'done') as done,
       count(*) filter (where s.state not in ('done', 'exempt')) as left_count,
       count(*) filter (where s.state = 'exempt') as exempt,
       count(*) filter (where s.state = 'unknown') as unknown
from migration_states s
join entities e on e.run_id = s.run_id and e.entity_ref = s.entity_ref
where s.run_id = $1
group by all
union all
select s.migration_id, 'system', coalesce(e.system_ref, ''),
       count(*), count(*) filter (where s.state = 'done'), count(*) filter (where s.state not in ('done', 'exempt')),
       count(*) filter (where s.state = 'exempt'), count(*) filter (where s.state = 'unknown')
from migration_states s
join entities e on e.run_id = s.run_id and e.entity_ref = s.entity_ref
where s.run_id = $1
group by all
union all
select s.migration_id, 'team', coalesce(e.owner_ref, ''),
       count(*), count(*) filter (where s.state = 'done'), count(*) filter (where s.state not in ('done', 'exempt')),
       count(*) filter (where s.state = 'exempt'), count(*) filter (where s.state = 'unknown')
from migration_states s
join entities e on e.run_id = s.run_id and e.entity_ref = s.entity_ref
where s.run_id = $1
group by all
order by 1, 2, 6 desc, 3
