-- migrations: per migration of run $2, components done, left and in all, and done in run $1.
select d.migration_id, d.title, d.deadline::varchar,
       count(*) filter (where s.state = 'done'),
       count(*) filter (where s.state not in ('done', 'exempt')),
       count(s.entity_ref),
       (select count(*) from migration_states p where p.run_id = $1 and p.migration_id = d.migration_id and p.state = 'done')
from migration_defs d
left join migration_states s on s.run_id = d.run_id and s.migration_id = d.migration_id
where d.run_id = $2
group by all
order by d.migration_id
