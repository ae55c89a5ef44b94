-- rejected: descriptors of run $1 that were not loaded, and why.
select file, doc, line, status, coalesce(entity_ref, ''), coalesce(error, '')
from documents
where run_id = $1 and status in ('invalid', 'yaml-error')
order by file, doc
