-- error_detail: what SQL said when a check failed to evaluate on an entity.
-- $1 grading, $2 entity, $3 check, $4 message.
insert into result_details values ($1, $2, $3, null, $4)
