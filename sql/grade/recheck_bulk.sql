-- recheck_bulk: a check's expressions evaluated without try() on all the entities to
-- recheck for its position $1; when this succeeds none of them hides an error. (<applies_to>
-- and <pass> are the check's validated expressions; the counts force both to be evaluated.)
select count(a) + count(p)
from (
    select (({applies_to}))::boolean as a, (({pass}))::boolean as p
    from eh_wide
    where entity_ref in (select entity_ref from eh_codes where list_contains(eh_rc, $1::integer))
)
