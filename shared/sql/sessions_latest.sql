SELECT * EXCEPT (row_rank)
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY user_id_hash, session_id ORDER BY synced_at DESC) AS row_rank
  FROM `${project}.${dataset}.${table}`
)
WHERE row_rank = 1
