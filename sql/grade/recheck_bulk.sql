-- recheck_bulk: a check's expressions evaluated without try() on all its staged rows that
-- may hide an error ($1 check); when this succeeds none of them does, and no row needs a
-- query of its own. ({applies_to} and {pass} are the check's validated expressions; the
-- counts force both to be evaluated.)
select count(a) + count(p)
from (
    select (({applies_to}))::boolean as a, (({pass}))::boolean as p
    from eh_wide
    where entity_ref in (
        select entity_ref from eh_results
        where check_id = $1 and recheck and (missing_facts is null or len(missing_facts) = 0)
    )
)
