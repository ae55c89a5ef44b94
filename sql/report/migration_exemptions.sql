-- migration_exemptions: the migration exemptions run $1 saw (active and expired).
select migration_id, entity_ref, reason, approver, justification, expires::varchar, status, defined_at
from migration_exemptions
where run_id = $1
order by migration_id, status, expires, entity_ref
