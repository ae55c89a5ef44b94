-- gradings_of_run: how many gradings run $1 has.
select count(*) from gradings where run_id = ?
