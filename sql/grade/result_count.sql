-- result_count: results of grading $1 (checks that apply, over all graded entities).
select sum(applicable) from grades where grading_id = $1
