-- 010_migration_codes: migration states stored compactly, one row per run and component with
-- a character per migration of the run (migration_defs in id order): D done, X exempt,
-- U unknown, P in progress, N not started, - does not apply. A row per state (007) cost
-- 4.3 MB per weekly run for 10,000 components and 5 migrations; this costs a fraction.
-- `migration_states` stays, as a view giving the same rows.
create table migration_codes (
    run_id     varchar not null,
    entity_ref varchar not null,
    codes      varchar not null,
    as_of      timestamp not null
);
insert into migration_codes
select s.run_id, s.entity_ref,
       string_agg(coalesce(case s2.state when 'done' then 'D' when 'exempt' then 'X' when 'unknown' then 'U'
                                         when 'in_progress' then 'P' when 'not_started' then 'N' end, '-'), '' order by d.migration_id),
       max(s.as_of)
from (select distinct run_id, entity_ref, as_of from migration_states) s
join migration_defs d on d.run_id = s.run_id
left join migration_states s2 on s2.run_id = s.run_id and s2.entity_ref = s.entity_ref and s2.migration_id = d.migration_id
group by s.run_id, s.entity_ref;
drop table migration_states;
create view migration_states as
select c.run_id, d.migration_id, c.entity_ref,
       case substr(c.codes, d.pos, 1) when 'D' then 'done' when 'X' then 'exempt' when 'U' then 'unknown'
                                      when 'P' then 'in_progress' else 'not_started' end as state,
       c.as_of
from migration_codes c
join (select run_id, migration_id, row_number() over (partition by run_id order by migration_id) as pos from migration_defs) d
  on d.run_id = c.run_id
where substr(c.codes, d.pos, 1) <> '-';
