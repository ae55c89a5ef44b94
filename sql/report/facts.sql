-- facts: the observations of the facts named in $3 (those the pages show) of every entity of
-- run $1 at or before $2, with their source and time (microseconds since the epoch, UTC). The
-- reader keeps the latest of each entity's fact (what the grading read): a window here cost
-- more than the rest of the query.
select entity_ref, fact, source, value_type, value_num, value_bool, value_text, value_json::varchar, epoch_us(observed_at)
from facts
where run_id = $1 and observed_at <= $2::timestamp and list_contains($3::varchar[], fact)
