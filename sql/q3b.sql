-- q3b: the country with the most-followed user (docs/SPEC.md section 5).
-- One row: the rows of q3a (repeated here) by follower_count descending, then country ascending with a
-- NULL country first, the first one taken.
WITH counted AS (
    SELECT g.country, p.poster_name, p.follower_count
    FROM pin AS p
    JOIN geo AS g ON p.ind = g.ind
),
ranked AS (
    SELECT country, poster_name, follower_count,
           MAX(follower_count) OVER (PARTITION BY country) AS top_count
    FROM counted
),
q3a AS (
    SELECT DISTINCT country, poster_name, follower_count
    FROM ranked
    WHERE follower_count = top_count
)
SELECT country, follower_count
FROM q3a
ORDER BY follower_count DESC, country ASC NULLS FIRST
LIMIT 1
