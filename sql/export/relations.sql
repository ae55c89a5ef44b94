-- relations: every relation of run $1, in a stable order.
select source_ref, type, target_ref from relations where run_id = $1 order by source_ref, type, target_ref
