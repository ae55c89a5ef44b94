-- stage_weights: each entity's roll-up weight, the latest value of the pipeline's weight
-- fact. $1 run, $2 fact, $3 as of.
insert into eh_weights
select entity_ref, arg_max(value_num, observed_at)
from facts
where run_id = $1 and fact = $2 and observed_at <= $3 and value_num is not null
group by entity_ref
