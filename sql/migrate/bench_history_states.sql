-- bench_history_states: the migration states of the $2 weekly runs before run $1: run $1's,
-- with a deterministic share of today's done components not done yet (a burn-down).
insert into migration_codes
select 'hist-' || lpad(w::varchar, 3, '0'), c.entity_ref,
       case when hash(c.entity_ref) % 60 > w then replace(c.codes, 'D', 'P') else c.codes end,
       c.as_of - to_weeks($2 - w)
from migration_codes c, range($2) t(w)
where c.run_id = $1
