-- errors: the problems recorded by run $1.
select stage, source, kind, severity, coalesce(file, ''), line, coalesce(entity_ref, ''), message
from errors
where run_id = $1
order by severity, stage, source, file, line
