-- stage_weights: each entity's roll-up weight, the value of the pipeline's weight fact
-- ({fact} is its quoted column, a fact name validated against the declared facts).
insert into eh_weights
select entity_ref, {fact}
from eh_wide
where {fact} is not null
