-- staged_count: how many results were staged.
select count(*) from eh_results
