-- The newest row of each session, what analysts query. Rows of `session-sync doctor --canary`
-- (session ids starting with session-sync-canary-) are probes, not training: left out.
SELECT * EXCEPT (row_rank)
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY user_id_hash, session_id ORDER BY synced_at DESC) AS row_rank
  FROM `${project}.${dataset}.${table}`
  WHERE NOT STARTS_WITH(session_id, 'session-sync-canary-')
)
WHERE row_rank = 1
