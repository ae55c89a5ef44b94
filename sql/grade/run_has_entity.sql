-- run_has_entity: whether entity $2 is in run $1.
select count(*) from entities where run_id = $1 and entity_ref = $2
