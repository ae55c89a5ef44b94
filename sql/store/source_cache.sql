-- The cache rows of one source ($1 source name): key, etag, body, fetched_at (epoch µs).
SELECT key, etag, body, epoch_us(fetched_at) FROM source_cache WHERE source = $1
