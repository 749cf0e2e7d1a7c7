-- q7: the median follower_count per join year, join years 2015 to 2020 (docs/SPEC.md section 5).
-- Over pin JOIN user, every age (also under 18 or none). The exact lower median as in q5.
WITH posts AS (
    SELECT CAST(EXTRACT(YEAR FROM u.date_joined) AS INTEGER) AS join_year, p.follower_count
    FROM pin AS p
    JOIN user AS u ON p.ind = u.ind
),
ranked AS (
    SELECT join_year, follower_count,
           ROW_NUMBER() OVER (
               PARTITION BY join_year
               ORDER BY COALESCE(CAST(follower_count AS BIGINT), 4294967296)
           ) AS value_rank,
           COUNT(follower_count) OVER (PARTITION BY join_year) AS value_count
    FROM posts
    WHERE join_year BETWEEN 2015 AND 2020
)
SELECT join_year AS post_year,
       MAX(CASE WHEN 2 * value_rank - 1 <= value_count AND value_count <= 2 * value_rank
                THEN follower_count END) AS median_follower_count
FROM ranked
GROUP BY join_year
