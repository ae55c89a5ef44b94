-- The source-cache rows of shard files (the hole: a list of cache.parquet paths): newest per source and key.
SELECT source, key, arg_max(etag, fetched_at), arg_max(body, fetched_at), epoch_us(max(fetched_at))
FROM read_parquet([{files}])
GROUP BY source, key
ORDER BY source, key
