-- state_of: the state of every entity of the wide view `eh_wide` one migration applies to
-- (<id> a validated snake_case id; <done>, <started>, <applies> validated expressions): done
-- when it holds, else exempt under an active exemption, else unknown when it cannot be
-- evaluated, in progress when `started` holds, else not started.
select '{id}' as migration_id, entity_ref,
       case when coalesce(({done}), false) then 'done'
            when exists (select 1 from eh_mig_exempt x where x.migration_id = '{id}' and x.entity_ref = eh_wide.entity_ref) then 'exempt'
            when ({done}) is null then 'unknown'
            when coalesce(({started}), false) then 'in_progress'
            else 'not_started' end as state
from eh_wide
where coalesce(({applies}), false)
