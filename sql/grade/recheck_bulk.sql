-- recheck_bulk: a check's expressions evaluated without try() on all the entities to
-- recheck for its position $1 (the pass expression where the check applies, as in codes.sql);
-- when this succeeds none of them hides an error. (<applies_to> and <pass> are the check's
-- validated expressions; the counts force both to be evaluated.)
select count(eh_a) + count(case when eh_a then (({pass}))::boolean end)
from (
    select *, (({applies_to}))::boolean as eh_a
    from eh_wide
    where entity_ref in (select entity_ref from eh_recheck where pos = $1::integer)
)
