-- 005_lean_grades: what a grading writes per entity gets smaller (a grading of 10,000
-- components wrote 8.6 MB of WAL, a third of it next_missing JSON):
-- * grades.outcomes becomes one character per check of the grading, in grading_checks order
--   (P pass, F fail, U unknown, E error, X exempt, - not applicable), a short string instead
--   of a list of strings; check_results and check_evidence read it as before;
-- * grades.next_missing (JSON) gives way to the view next_level_checks: one row per check
--   holding an entity's next level back, derived from the stored outcomes.

drop view check_evidence;
drop view check_results;

alter table grades add column codes varchar;
update grades set codes = array_to_string(list_transform(outcomes, lambda c: coalesce(c, '-')), '');
alter table grades drop column outcomes;
alter table grades rename column codes to outcomes;
alter table grades drop column next_missing;

create view check_results as
select
    g.grading_id,
    g.run_id,
    g.entity_ref,
    c.check_id,
    case g.code
        when 'P' then 'pass'
        when 'F' then 'fail'
        when 'U' then 'unknown'
        when 'E' then 'error'
        when 'X' then 'exempt'
    end as outcome,
    d.missing_facts,
    d.error
from (
    select grading_id, run_id, entity_ref, unnest(string_split(outcomes, '')) as code, unnest(range(1, length(outcomes) + 1)) as pos
    from grades
) g
join grading_checks c on c.grading_id = g.grading_id and c.pos = g.pos
left join result_details d on d.grading_id = g.grading_id and d.entity_ref = g.entity_ref and d.check_id = c.check_id
where g.code <> '-';

create view check_evidence as
select
    r.grading_id,
    r.run_id,
    r.entity_ref,
    r.check_id,
    r.outcome,
    cf.fact,
    f.value_type,
    f.value_num,
    f.value_bool,
    f.value_text,
    f.value_json,
    f.source,
    f.observed_at,
    f.evidence
from check_results r
join gradings g on g.grading_id = r.grading_id
join grading_check_facts cf on cf.grading_id = r.grading_id and cf.check_id = r.check_id
left join facts f on f.run_id = r.run_id and f.entity_ref = r.entity_ref and f.fact = cf.fact
    and f.observed_at = (
        select max(f2.observed_at) from facts f2
        where f2.run_id = r.run_id and f2.entity_ref = r.entity_ref and f2.fact = cf.fact and f2.observed_at <= g.as_of
    );

create view next_level_checks as
select r.grading_id, r.run_id, r.entity_ref, g.next_level, r.check_id, r.outcome, r.missing_facts
from grades g
join check_results r on r.grading_id = g.grading_id and r.entity_ref = g.entity_ref
join grading_checks c on c.grading_id = r.grading_id and c.check_id = r.check_id
where c.level_index = g.level_index + 1 and r.outcome in ('fail', 'unknown', 'error');
