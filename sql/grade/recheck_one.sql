-- recheck_one: a check's expressions evaluated without try() on one entity ($1), to tell a
-- runtime error from a NULL (the pass expression where the check applies, as in codes.sql;
-- <applies_to> and <pass> are the check's validated expressions).
select eh_a, case when eh_a then (({pass}))::boolean end
from (
    select *, (({applies_to}))::boolean as eh_a
    from eh_wide
    where entity_ref = $1
)
