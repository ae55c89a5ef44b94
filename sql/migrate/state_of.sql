-- state_of: the state of every entity of the wide view `eh_wide` one migration applies to
-- (<id> a validated snake_case id; <done>, <started>, <applies> validated expressions).
select '{id}' as migration_id, entity_ref,
       case when ({done}) is null then 'unknown'
            when ({done}) then 'done'
            when coalesce(({started}), false) then 'in_progress'
            else 'not_started' end as state
from eh_wide
where coalesce(({applies}), false)
