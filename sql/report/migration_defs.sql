-- migration_defs: the migrations run $1 evaluated, in id order.
select migration_id, title, description, owner, start_date::varchar, deadline::varchar, applies_to, done, started, done_facts::varchar, defined_at
from migration_defs
where run_id = $1
order by migration_id
