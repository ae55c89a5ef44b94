-- stage_tables: the temp tables a grading stages in (levels, active exemptions, weights).
create or replace temp table eh_levels (idx integer, name varchar);
create or replace temp table eh_exempt (entity_ref varchar, check_id varchar);
create or replace temp table eh_weights (entity_ref varchar, weight double);
