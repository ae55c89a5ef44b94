-- scope_mean_score: mean score of a roll-up scope. $1 grading, $2 scope kind, $3 scope ref.
select mean_score from rollups where grading_id = ? and scope = ? and scope_ref = ?
