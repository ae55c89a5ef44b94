-- The active migration exemptions of run $1 (as `state_of.sql` reads them).
create or replace temp table eh_mig_exempt as
select migration_id, entity_ref from migration_exemptions where run_id = $1 and status = 'active'
