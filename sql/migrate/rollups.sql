-- rollups: per migration of run $1, per domain, per system and per owning team, the
-- components in each state (the progress tables of the migration pages, and the numbers a
-- leader asks for). One pass, three grouping sets.
with s as (
    select s.migration_id, s.state, coalesce(e.domain_ref, '') as domain_ref, coalesce(e.system_ref, '') as system_ref,
           coalesce(e.owner_ref, '') as owner_ref
    from migration_states s
    join entities e on e.run_id = s.run_id and e.entity_ref = s.entity_ref
    where s.run_id = $1
)
select migration_id,
       case when domain_ref is not null then 'domain' when system_ref is not null then 'system' else 'team' end as scope,
       coalesce(domain_ref, system_ref, owner_ref) as scope_ref,
       count(*) as total,
       count(*) filter (where state = 'done') as done,
       count(*) filter (where state not in ('done', 'exempt')) as left_count,
       count(*) filter (where state = 'exempt') as exempt,
       count(*) filter (where state = 'unknown') as unknown
from s
group by grouping sets ((migration_id, domain_ref), (migration_id, system_ref), (migration_id, owner_ref))
order by 1, 2, 6 desc, 3
