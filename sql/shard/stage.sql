-- The tables a shard's output is staged in (an in-memory database) before COPY to Parquet.
CREATE TABLE shard_facts (
    source VARCHAR NOT NULL,
    entity_ref VARCHAR NOT NULL,
    origin VARCHAR NOT NULL,
    fact VARCHAR NOT NULL,
    value_type VARCHAR NOT NULL,
    value_num DOUBLE,
    value_bool BOOLEAN,
    value_text VARCHAR,
    value_json VARCHAR,
    observed_at TIMESTAMP NOT NULL,
    evidence VARCHAR NOT NULL
);
CREATE TABLE shard_cache (
    source VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    etag VARCHAR,
    body VARCHAR NOT NULL,
    fetched_at TIMESTAMP NOT NULL
);
