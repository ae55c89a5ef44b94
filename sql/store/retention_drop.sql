-- retention_drop: deletes everything of the runs listed in the temp table eh_drop(run_id):
-- their gradings' rows first, then every table keyed by run, then the runs. The source
-- caches stay (they are not history).
delete from exemptions where grading_id in (select grading_id from gradings where run_id in (select run_id from eh_drop));
delete from grading_checks where grading_id in (select grading_id from gradings where run_id in (select run_id from eh_drop));
delete from grading_check_facts where grading_id in (select grading_id from gradings where run_id in (select run_id from eh_drop));
delete from result_details where grading_id in (select grading_id from gradings where run_id in (select run_id from eh_drop));
delete from grades where run_id in (select run_id from eh_drop);
delete from rollups where run_id in (select run_id from eh_drop);
delete from gradings where run_id in (select run_id from eh_drop);
delete from entities where run_id in (select run_id from eh_drop);
delete from relations where run_id in (select run_id from eh_drop);
delete from facts where run_id in (select run_id from eh_drop);
delete from errors where run_id in (select run_id from eh_drop);
delete from documents where run_id in (select run_id from eh_drop);
delete from migration_codes where run_id in (select run_id from eh_drop);
delete from migration_defs where run_id in (select run_id from eh_drop);
delete from migration_exemptions where run_id in (select run_id from eh_drop);
delete from roi_models where run_id in (select run_id from eh_drop);
delete from runs where run_id in (select run_id from eh_drop);
