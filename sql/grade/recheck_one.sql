-- recheck_one: a check's expressions evaluated without try() on one entity ($1), to tell a
-- runtime error from a NULL (<applies_to> and <pass> are the check's validated expressions).
select (({applies_to}))::boolean, (({pass}))::boolean
from eh_wide
where entity_ref = $1
