-- scope_changes: per domain and per owning team, components whose level went up or down
-- between grading $1 (before) and $2 (after), with the scope's mean score in both.
with moved as (
    select e.domain_ref, e.owner_ref, n.level_index - coalesce(o.level_index, -1) as delta
    from grades n
    join entities e on e.run_id = n.run_id and e.entity_ref = n.entity_ref and e.kind = 'Component'
    left join grades o on o.grading_id = $1 and o.entity_ref = n.entity_ref
    where n.grading_id = $2
),
by_scope as (
    select 'domain' as scope, domain_ref as scope_ref, count(*) filter (where delta > 0) as up, count(*) filter (where delta < 0) as down
    from moved where domain_ref is not null group by all
    union all
    select 'team', owner_ref, count(*) filter (where delta > 0), count(*) filter (where delta < 0)
    from moved where owner_ref is not null group by all
)
select b.scope, b.scope_ref, b.up, b.down, ro.mean_score, rn.mean_score
from by_scope b
left join rollups rn on rn.grading_id = $2 and rn.scope = b.scope and rn.scope_ref = b.scope_ref
left join rollups ro on ro.grading_id = $1 and ro.scope = b.scope and ro.scope_ref = b.scope_ref
where b.up > 0 or b.down > 0
order by b.scope, b.down desc, b.up desc, b.scope_ref
