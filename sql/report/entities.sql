-- entities: every entity of run $1 with what the pages show (JSON columns as text).
select entity_ref, kind, namespace, name, title, description, spec_type, lifecycle, owner_ref, system_ref, domain_ref,
    coalesce(team_chain::varchar, '[]'), coalesce(tags::varchar, '[]'), coalesce(links::varchar, '[]'), source_file, source_line
from entities
where run_id = $1
order by entity_ref
