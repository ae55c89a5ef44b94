-- run_counts: what one run loaded, counted from the tables themselves (used by tests and summaries).
select
    (select count(*) from entities where run_id = $1) as entities,
    (select count(*) from relations where run_id = $1) as relations,
    (select count(*) from facts where run_id = $1) as facts,
    (select count(*) from errors where run_id = $1 and severity = 'error') as errors
