-- recheck_rows: staged results whose NULL may hide a runtime error (no missing fact to explain it).
select entity_ref, check_id from eh_results where recheck and (missing_facts is null or len(missing_facts) = 0) order by check_id, entity_ref
