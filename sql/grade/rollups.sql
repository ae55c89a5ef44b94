-- rollups: per domain (subdomains included), system and owning team (a group sees the
-- components of its child groups); components only of one grading: level distribution, mean score and
-- coverage, weighted mean score (eh_weights), failing checks, worst entities.
-- $1 grading, $2 run.
insert into rollups
with recursive dom_parent as (
    select source_ref as child, target_ref as parent
    from relations
    where run_id = $2 and type = 'partOf' and source_ref like 'domain:%' and target_ref like 'domain:%'
),
dom_anc(d, anc) as (
    select entity_ref, entity_ref from entities where run_id = $2 and kind = 'Domain'
    union
    select a.d, p.parent from dom_anc a join dom_parent p on p.child = a.anc
),
g as (
    select gr.*, e.system_ref, e.domain_ref, e.team_chain, w.weight
    from grades gr
    join entities e on e.run_id = gr.run_id and e.entity_ref = gr.entity_ref
    left join eh_weights w on w.entity_ref = gr.entity_ref
    where gr.grading_id = $1 and e.kind = 'Component'
),
scoped as (
    select 'domain' as scope, a.anc as scope_ref, g.* from g join dom_anc a on a.d = g.domain_ref
    union all
    select 'system', g.system_ref, g.* from g where g.system_ref is not null
    union all
    select 'team', t.team, g.* from g, unnest(from_json(g.team_chain, '["VARCHAR"]')) as t(team)
),
level_counts as (
    select scope, scope_ref, to_json(map_from_entries(list(struct_pack(key := coalesce(level, 'none'), value := n) order by coalesce(level, 'none')))) as levels
    from (select scope, scope_ref, level, count(*) as n from scoped group by all)
    group by scope, scope_ref
),
failing_counts as (
    select scope, scope_ref, to_json(map_from_entries(list(struct_pack(key := check_id, value := n) order by n desc, check_id))) as failing_checks
    from (
        select s.scope, s.scope_ref, r.check_id, count(*) as n
        from scoped s join check_results r on r.grading_id = $1 and r.entity_ref = s.entity_ref and r.outcome = 'fail'
        group by all
    )
    group by scope, scope_ref
),
agg as (
    select
        scope,
        scope_ref,
        count(*) as entities,
        avg(score) as mean_score,
        avg(coverage) as mean_coverage,
        sum(score * weight) filter (where weight > 0 and score is not null) / nullif(sum(weight) filter (where weight > 0 and score is not null), 0) as weighted_mean_score,
        to_json(list(entity_ref order by level_index, score nulls first, entity_ref)[1:5]) as worst
    from scoped
    group by scope, scope_ref
)
select
    $1, $2, a.scope, a.scope_ref, a.entities, l.levels, a.mean_score, a.mean_coverage, a.weighted_mean_score,
    coalesce(f.failing_checks, '{}'::json), a.worst
from agg a
join level_counts l using (scope, scope_ref)
left join failing_counts f using (scope, scope_ref)
