-- groups: the groups of run $1 with their annotations, for the Alertmanager export.
select entity_ref, namespace, name, coalesce(annotations::varchar, '{}') from entities where run_id = $1 and kind = 'Group' order by entity_ref
