-- retention_pick: the runs of pipeline $1 that retention drops, as of $2 (now): every run is
-- kept for $3 days; then the newest completed run of each ISO week until $4 days; then the
-- newest completed run of each month until $5 days (null: forever); the rest go (failed runs
-- older than $3 days too). The newest completed run and the newest run are always kept.
with r as (
    select run_id, status, as_of, started_at,
           date_diff('day', as_of, $2::timestamp) as age,
           row_number() over (partition by date_trunc('week', as_of), status in ('ok', 'partial') order by as_of desc, started_at desc) as week_rank,
           row_number() over (partition by date_trunc('month', as_of), status in ('ok', 'partial') order by as_of desc, started_at desc) as month_rank
    from runs
    where pipeline = $1
),
protected as (
    select run_id from (select run_id from runs where pipeline = $1 and status in ('ok', 'partial') order by as_of desc, started_at desc limit 1)
    union
    select run_id from (select run_id from runs where pipeline = $1 order by started_at desc limit 1)
)
select run_id
from r
where run_id not in (select run_id from protected)
  and age > $3
  and not (status in ('ok', 'partial') and age <= $4 and week_rank = 1)
  and not (status in ('ok', 'partial') and ($5 is null or age <= $5) and month_rank = 1)
order by as_of
