-- set_grading_summary: a grading's summary.
update gradings set entities = ?, levels = ?, mean_score = ?, mean_coverage = ? where grading_id = ?
