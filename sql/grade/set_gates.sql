-- set_gates: a grading's gate verdicts. $1 JSON, $2 grading.
update gradings set gates = ? where grading_id = ?
