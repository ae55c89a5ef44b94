-- A staging table for the cache rows a run writes (replaced into source_cache at load).
CREATE OR REPLACE TEMP TABLE eh_cache_stage (source VARCHAR, key VARCHAR, etag VARCHAR, body VARCHAR, fetched_at TIMESTAMP, run_id VARCHAR)
