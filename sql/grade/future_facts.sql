-- future_facts: facts of run $1 observed after the time the grading looks at ($2): left out
-- of the grading (their checks see the earlier observation, or nothing). How many, which.
select count(*), string_agg(distinct fact, ', ' order by fact)
from facts
where run_id = $1 and observed_at > $2
