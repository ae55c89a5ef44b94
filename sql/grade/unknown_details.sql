-- unknown_details: what unknown results say, their missing facts ($1 grading); <ids>,
-- <codes> and <missing> list the checks, their code columns and missing-fact columns.
insert into result_details
select $1, entity_ref, check_id, missing_facts, null
from (
    select entity_ref, unnest([{ids}]) as check_id, unnest([{codes}]::varchar[]) as code, unnest([{missing}]::varchar[][]) as missing_facts
    from eh_codes
)
where code = 'U'
