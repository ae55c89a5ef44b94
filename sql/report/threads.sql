-- threads: how many threads DuckDB runs queries on (the report's reads run on one, then the
-- setting is put back).
select current_setting('threads')::bigint
