-- store_results: staged results that apply, stored. $1 grading, $2 run.
insert into check_results select ?, ?, entity_ref, check_id, outcome, missing_facts, error from eh_results where outcome <> 'not_applicable'
