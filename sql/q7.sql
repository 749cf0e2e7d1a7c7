-- q7: the median follower_count per join year, join years 2015 to 2020 (docs/SPEC.md section 5).
-- Over pin JOIN user, every age (also under 18 or none). The exact lower median as in q5.
WITH posts AS (
    SELECT CAST(EXTRACT(YEAR FROM u.date_joined) AS INTEGER) AS join_year, p.follower_count
    FROM pin AS p
    JOIN user AS u ON p.ind = u.ind
),
counts AS (
    SELECT join_year, follower_count, CAST(COUNT(follower_count) AS BIGINT) AS value_posts
    FROM posts
    WHERE join_year BETWEEN 2015 AND 2020
    GROUP BY join_year, follower_count
),
ranked AS (
    SELECT join_year, follower_count, value_posts,
           SUM(value_posts) OVER (
               PARTITION BY join_year
               ORDER BY COALESCE(CAST(follower_count AS BIGINT), 4294967296)
           ) AS posts_up_to,
           SUM(value_posts) OVER (PARTITION BY join_year) AS value_count
    FROM counts
)
SELECT join_year AS post_year,
       MAX(CASE WHEN 2 * (posts_up_to - value_posts) < value_count AND value_count <= 2 * posts_up_to
                THEN follower_count END) AS median_follower_count
FROM ranked
GROUP BY join_year
