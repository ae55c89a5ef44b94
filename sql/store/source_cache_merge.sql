-- Replaces the cache rows a run staged (newest per key wins), then empties the stage.
INSERT OR REPLACE INTO source_cache
SELECT source, key, arg_max(etag, fetched_at), arg_max(body, fetched_at), max(fetched_at), arg_max(run_id, fetched_at)
FROM eh_cache_stage GROUP BY source, key
