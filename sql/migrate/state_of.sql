-- state_of: the code of one migration for an entity of the wide view `eh_wide` (<id> a
-- validated snake_case id; <done>, <started>, <applies> validated expressions): - when it
-- does not apply, D when done, X under an active exemption, U when `done` cannot be
-- evaluated, P when `started` holds, else N.
case when not coalesce(({applies}), false) then '-'
     when coalesce(({done}), false) then 'D'
     when exists (select 1 from eh_mig_exempt x where x.migration_id = '{id}' and x.entity_ref = eh_wide.entity_ref) then 'X'
     when ({done}) is null then 'U'
     when coalesce(({started}), false) then 'P'
     else 'N' end
