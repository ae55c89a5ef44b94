-- insert_states: stores the migration codes of run $1 as of $2 (<codes>: one state_of.sql
-- per migration in id order, joined by `||`; <none>: the code string of an entity no
-- migration applies to, which is not stored).
insert into migration_codes (run_id, entity_ref, codes, as_of)
select $1, entity_ref, codes, $2::timestamp
from (select entity_ref, {codes} as codes from eh_wide)
where codes <> '{none}'
