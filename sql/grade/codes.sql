-- codes: every check on every entity in one pass over the wide view (<wide>; $1 run, $2 as
-- of). Per entity: a code per check (o<i>: P, F, U, X, or NULL when it does not apply), the
-- facts missing for each unknown (m<i>), and the check positions whose NULL may hide a
-- runtime error (eh_rc). <inner>, <outer>, <cols>, <rc> are generated from the validated
-- check expressions.
create or replace temp table eh_codes as
with w as (
{wide}
),
e as (
    select entity_ref{outer}
    from (select *{inner} from w)
)
select e.entity_ref{cols},
    list_filter([{rc}]::integer[], lambda v: v is not null) as eh_rc
from e
left join (select entity_ref, list(check_id) as xs from eh_exempt group by entity_ref) x on x.entity_ref = e.entity_ref
