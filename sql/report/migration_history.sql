-- migration_history: per migration and day, the components left (neither done nor exempt),
-- done and in all, from the last completed run of each day of pipeline $1 whose facts were
-- taken up to $2 (this run included), oldest first.
with picked as (
    select run_id, as_of
    from runs
    where pipeline = $1 and as_of <= $2::timestamp and status in ('ok', 'partial')
    qualify row_number() over (partition by as_of::date order by as_of desc, started_at desc) = 1
)
select s.migration_id,
       p.as_of::date::varchar as day,
       count(*) filter (where s.state not in ('done', 'exempt')) as left_count,
       count(*) filter (where s.state = 'done') as done_count,
       count(*) as total
from migration_states s
join picked p on p.run_id = s.run_id
group by all
order by 1, 2
