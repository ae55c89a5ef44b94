-- mark_error: a staged result whose expression failed. $1 message, $2 entity, $3 check.
update eh_results set outcome = 'error', error = ?, missing_facts = []::varchar[] where entity_ref = ? and check_id = ?
