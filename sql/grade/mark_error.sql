-- mark_error: an entity ($1) on which check position <i> failed to evaluate becomes error.
update eh_codes set o{i} = 'E', m{i} = null where entity_ref = $1
