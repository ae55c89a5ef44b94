-- relations: the relations the pages draw (dependencies, APIs, ownership, parts, groups) of run $1
-- (the reader orders each entity's).
select source_ref, type, target_ref
from relations
where run_id = $1
    and type in ('dependsOn', 'dependencyOf', 'consumesApi', 'apiConsumedBy', 'providesApi', 'apiProvidedBy', 'partOf', 'hasPart', 'childOf', 'parentOf')
