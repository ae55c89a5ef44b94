-- grading_means: graded components, mean score, mean coverage. $1 grading.
select count(*), avg(g.score), avg(g.coverage) from grades g join entities e on e.run_id = g.run_id and e.entity_ref = g.entity_ref where g.grading_id = ? and e.kind = 'Component'
