-- entity_base: one row per entity of run $1 with the catalog fields checks read (the
-- left part of the wide fact view; fact columns are added beside it).
with rel as (
    select
        r.source_ref,
        list(r.target_ref order by r.target_ref) filter (where r.type = 'dependsOn') as depends_on,
        list(r.target_ref order by r.target_ref) filter (where r.type = 'providesApi') as provides_apis,
        list(r.target_ref order by r.target_ref) filter (where r.type = 'consumesApi') as consumes_apis,
        count(*) filter (where r.type = 'dependsOn' and t.lifecycle = 'deprecated') as deprecated_dependencies,
        count(*) filter (where t.entity_ref is null) as dangling_refs
    from relations r
    left join entities t on t.run_id = r.run_id and t.entity_ref = r.target_ref
    where r.run_id = $1
      and r.type in ('dependsOn', 'providesApi', 'consumesApi', 'ownedBy', 'partOf', 'dependencyOf', 'memberOf', 'childOf', 'parentOf', 'hasMember')
    group by r.source_ref
)
select
    e.entity_ref,
    e.kind,
    e.namespace,
    e.name,
    e.title,
    json_extract_string(e.raw, '$.metadata.description') as description,
    e.spec_type as type,
    e.lifecycle,
    e.owner_ref as owner,
    split_part(e.owner_ref, ':', 1) as owner_kind,
    (o.entity_ref is not null) as owner_exists,
    e.system_ref as system,
    (s.entity_ref is not null) as system_exists,
    e.domain_ref as domain,
    e.root_domain_ref as root_domain,
    coalesce(from_json(e.tags, '["VARCHAR"]'), []::varchar[]) as tags,
    e.annotations::json as annotations,
    coalesce(
        from_json(json_extract(e.raw, '$.metadata.links'), '[{"url": "VARCHAR", "title": "VARCHAR", "icon": "VARCHAR", "type": "VARCHAR"}]'),
        []::struct(url varchar, title varchar, icon varchar, type varchar)[]
    ) as links,
    json_extract(e.raw, '$.spec') as spec,
    coalesce(from_json(e.team_chain, '["VARCHAR"]'), []::varchar[]) as team_chain,
    coalesce(rel.depends_on, []::varchar[]) as depends_on,
    coalesce(rel.provides_apis, []::varchar[]) as provides_apis,
    coalesce(rel.consumes_apis, []::varchar[]) as consumes_apis,
    coalesce(rel.deprecated_dependencies, 0) as deprecated_dependencies,
    coalesce(rel.dangling_refs, 0) as dangling_refs
from entities e
left join entities o on o.run_id = e.run_id and o.entity_ref = e.owner_ref
left join entities s on s.run_id = e.run_id and s.entity_ref = e.system_ref
left join rel on rel.source_ref = e.entity_ref
where e.run_id = $1
