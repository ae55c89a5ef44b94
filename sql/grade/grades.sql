-- grades: the grade of every entity with at least one applicable check, from eh_codes
-- ($1 grading, $2 run): the highest level with nothing fail, unknown or error at or below it,
-- score (weighted pass share among pass and fail), coverage, counts, the checks holding the
-- next level back, and the outcome codes. The <…> sums and lists are generated per check.
insert into grades (grading_id, run_id, entity_ref, level, level_index, score, coverage, passed, failed, unknown, exempt, applicable, next_level, next_missing, outcomes)
select $1, $2, q.entity_ref, l.name, q.level_index,
    q.pass_w / nullif(q.known_w, 0),
    (q.passed + q.failed + q.exempt) / q.applicable::double,
    q.passed, q.failed, q.unknown, q.exempt, q.applicable,
    nl.name,
    to_json(list_filter([{next}]::json[], lambda v: v is not null)),
    q.outcomes
from (
    select *,
        {level_index} as level_index,
        {pass_w} as pass_w,
        {known_w} as known_w,
        {passed} as passed,
        {failed} as failed,
        {unknown} as unknown,
        {exempt} as exempt,
        {applicable} as applicable,
        [{codes}]::varchar[] as outcomes
    from eh_codes
) q
left join eh_levels l on l.idx = q.level_index
left join eh_levels nl on nl.idx = q.level_index + 1
where q.applicable > 0
