-- unknown_details: what unknown results say, their missing facts ($1 grading), from the
-- staged eh_missing (fact names joined by commas: they are validated [a-z0-9_.]).
insert into result_details
select $1, entity_ref, check_id, case when missing = '' then []::varchar[] else string_split(missing, ',') end, null
from eh_missing
