-- Components per migration and state in a run ($1).
SELECT migration_id, state, count(*) FROM migration_states WHERE run_id = $1 GROUP BY ALL ORDER BY ALL
