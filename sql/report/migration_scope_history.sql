-- migration_scope_history: per migration, per domain and per owning team (as run $3 assigns
-- them, so a move of ownership does not split the history), and per day, the components left
-- (neither done nor exempt), from the last completed run of each day of pipeline $1 whose
-- facts were taken up to $2, with the components done and in all. One pass over the codes
-- (grouping sets), not the states view; a migration's own history is the sum of its domains.
with picked as (
    select run_id, as_of::date as day, row_number() over (partition by as_of::date order by as_of desc, started_at desc) as k
    from runs
    where pipeline = $1 and as_of <= $2::timestamp and status in ('ok', 'partial')
),
pos as (
    select run_id, migration_id, row_number() over (partition by run_id order by migration_id) as p
    from migration_defs
),
st as (
    select ps.migration_id, pk.day, coalesce(e.domain_ref, '') as domain_ref, coalesce(e.owner_ref, '') as owner_ref,
           substr(c.codes, ps.p, 1) as ch
    from migration_codes c
    join picked pk on pk.run_id = c.run_id and pk.k = 1
    join pos ps on ps.run_id = c.run_id
    join entities e on e.run_id = $3 and e.entity_ref = c.entity_ref
)
select migration_id, case when domain_ref is null then 'team' else 'domain' end,
       coalesce(domain_ref, owner_ref), day::varchar, count(*) filter (where ch in ('P', 'N', 'U')), count(*) filter (where ch = 'D'), count(*)
from st
where ch <> '-'
group by grouping sets ((migration_id, domain_ref, day), (migration_id, owner_ref, day))
order by 1, 2, 3, 4
