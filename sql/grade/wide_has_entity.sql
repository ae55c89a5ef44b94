-- wide_has_entity: whether entity $1 is in the graded run.
select count(*) from eh_wide where entity_ref = ?
