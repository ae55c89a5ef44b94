-- entities (table export): the entities of run <run> with their catalog fields.
select run_id, entity_ref, kind, namespace, name, title, description, spec_type as type, lifecycle, owner_ref as owner,
    system_ref as system, domain_ref as domain, root_domain_ref as root_domain, team_chain::varchar as team_chain,
    tags::varchar as tags, annotations::varchar as annotations, source_file, source_line
from entities
where run_id = {run}
order by entity_ref
