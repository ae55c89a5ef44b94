-- entity_base: one row per entity of run $1 with the catalog fields checks read (the
-- left part of the wide fact view; fact columns are added beside it). Everything here was
-- computed at load time (see sql/schema/003_evidence.sql); only owner/system existence
-- is joined.
select
    e.entity_ref,
    e.kind,
    e.namespace,
    e.name,
    e.title,
    e.description,
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
        from_json(e.links, '[{"url": "VARCHAR", "title": "VARCHAR", "icon": "VARCHAR", "type": "VARCHAR"}]'),
        []::struct(url varchar, title varchar, icon varchar, type varchar)[]
    ) as links,
    e.spec,
    coalesce(from_json(e.team_chain, '["VARCHAR"]'), []::varchar[]) as team_chain,
    coalesce(from_json(e.depends_on, '["VARCHAR"]'), []::varchar[]) as depends_on,
    coalesce(from_json(e.provides_apis, '["VARCHAR"]'), []::varchar[]) as provides_apis,
    coalesce(from_json(e.consumes_apis, '["VARCHAR"]'), []::varchar[]) as consumes_apis,
    coalesce(e.deprecated_dependencies, 0) as deprecated_dependencies,
    coalesce(e.dangling_refs, 0) as dangling_refs
from entities e
left join entities o on o.run_id = e.run_id and o.entity_ref = e.owner_ref
left join entities s on s.run_id = e.run_id and s.entity_ref = e.system_ref
where e.run_id = $1
