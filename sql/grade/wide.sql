-- wide: the wide fact view, one row per entity of run $1: the catalog columns of
-- entity_base.sql (<base>) and every fact as a typed column holding its latest observation
-- at or before $2 (<pivot>: one arg_max per fact the pipeline knows, names validated).
select b.*, f.* exclude (entity_ref)
from ({base}) b
left join (
    select entity_ref{pivot}
    from facts
    where run_id = $1 and observed_at <= $2
    group by entity_ref
) f on f.entity_ref = b.entity_ref
