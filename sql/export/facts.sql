-- facts (table export): every fact of run <run> with its source, time and evidence.
select run_id, entity_ref, source, fact, value_type, value_num, value_bool, value_text, value_json::varchar as value_json, observed_at, evidence
from facts
where run_id = {run}
order by entity_ref, fact, observed_at
