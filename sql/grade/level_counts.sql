-- level_counts: graded components per level ("none" below the first). $1 grading.
select coalesce(g.level, 'none'), count(*) from grades g join entities e on e.run_id = g.run_id and e.entity_ref = g.entity_ref where g.grading_id = ? and e.kind = 'Component' group by all
