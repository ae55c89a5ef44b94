-- current_facts: per entity and fact of run $1, the latest observation made at or before
-- $2 (the time the grading looks at), with its source and time.
select
    entity_ref,
    fact,
    arg_max(value_type, observed_at) as value_type,
    arg_max(value_num, observed_at) as value_num,
    arg_max(value_bool, observed_at) as value_bool,
    arg_max(value_text, observed_at) as value_text,
    arg_max(value_json, observed_at) as value_json,
    arg_max(source, observed_at) as source,
    max(observed_at) as observed_at
from facts
where run_id = $1 and observed_at <= $2
group by entity_ref, fact
