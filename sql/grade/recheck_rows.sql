-- recheck_rows: (entity, check position) pairs whose NULL may hide a runtime error (no
-- missing fact explains it), from the evaluated codes.
select entity_ref, unnest(eh_rc) as pos
from eh_codes
where len(eh_rc) > 0
order by 2, 1
