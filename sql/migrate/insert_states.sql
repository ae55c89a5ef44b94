-- insert_states: stores the states of every migration for run $1 as of $2 (<states>: one
-- state_of.sql per migration, joined by `union all`).
insert into migration_states (run_id, migration_id, entity_ref, state, as_of)
select $1, migration_id, entity_ref, state, $2::timestamp from ({states})
