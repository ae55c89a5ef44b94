-- The facts of shard files (the hole: a list of facts.parquet paths as SQL strings), in a stable order.
SELECT source, entity_ref, origin, fact, value_type, value_num, value_bool, value_text, value_json,
       epoch_us(observed_at), evidence
FROM read_parquet([{files}])
ORDER BY source, entity_ref, fact, origin
