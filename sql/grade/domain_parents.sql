-- domain_parents: every Domain of run $1 with the domain it is part of (NULL for a root),
-- for the roll-ups (a domain sees the components of its subdomains).
select d.entity_ref, r.target_ref
from entities d
left join relations r on r.run_id = d.run_id and r.source_ref = d.entity_ref and r.type = 'partOf' and r.target_ref like 'domain:%'
where d.run_id = $1 and d.kind = 'Domain'
