-- migration_states: the state of every component of every migration in run $1.
select migration_id, entity_ref, state
from migration_states
where run_id = $1
order by migration_id, entity_ref
