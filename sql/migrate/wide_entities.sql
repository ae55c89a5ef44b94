-- wide_entities: the entities of the wide view `eh_wide` (exemptions naming others are errors).
select entity_ref from eh_wide
