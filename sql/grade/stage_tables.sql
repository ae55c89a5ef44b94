-- stage_tables: the temp tables a grading stages in (active exemptions, weights, the
-- (entity, check position) pairs to recheck without try(), the facts unknown results miss).
create or replace temp table eh_exempt (entity_ref varchar, check_id varchar);
create or replace temp table eh_weights (entity_ref varchar, weight double);
create or replace temp table eh_recheck (entity_ref varchar, pos integer);
create or replace temp table eh_missing (entity_ref varchar, check_id varchar, missing varchar);
