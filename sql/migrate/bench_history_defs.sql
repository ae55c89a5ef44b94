-- bench_history_defs: the migration definitions of the $2 weekly runs before run $1 (run $1's).
insert into migration_defs
select 'hist-' || lpad(w::varchar, 3, '0'), d.* exclude (run_id)
from migration_defs d, range($2) t(w)
where d.run_id = $1
