-- codes: every check on every entity in one pass over the wide view (<wide>; $1 run, $2 as
-- of). One row per entity: what the roll-ups group by (kind, system, domain, the owning team
-- chain, the weight), one character per check in <codes> (P pass, F fail, U unknown,
-- X exempt, - not applicable, n applies_to was NULL: not applicable, but rechecked in case
-- the NULL hides a runtime error), and one character per fact the checks read in <nulls>
-- (1 when it is absent, so an unknown result can name its missing facts). <applies>,
-- <passes> and <codes> are generated from the validated check expressions (a pass expression
-- is only evaluated where its check applies), <nulls> from their facts.
with w as (
{wide}
),
a as (
    select *{applies}
    from w
),
e as (
    select *{passes}
    from a
)
select
    e.entity_ref,
    e.kind,
    e.system,
    e.domain,
    to_json(e.team_chain)::varchar as team_chain,
    wt.weight,
    concat({codes}) as codes,
    concat({nulls}) as nulls
from e
left join (select entity_ref, list(check_id) as xs from eh_exempt group by entity_ref) x on x.entity_ref = e.entity_ref
left join eh_weights wt on wt.entity_ref = e.entity_ref
