-- q9: the median follower_count per age group and post year, post years 2018 to 2022 (docs/SPEC.md section 5).
-- Over pin JOIN geo JOIN user; under 18 (or no age) has no group. The exact lower median as in q5.
WITH posts AS (
    SELECT CASE
               WHEN u.age BETWEEN 18 AND 24 THEN '18-24'
               WHEN u.age BETWEEN 25 AND 35 THEN '25-35'
               WHEN u.age BETWEEN 36 AND 50 THEN '36-50'
               WHEN u.age >= 51 THEN '+50'
           END AS age_group,
           CAST(EXTRACT(YEAR FROM g.timestamp) AS INTEGER) AS post_year,
           p.follower_count
    FROM pin AS p
    JOIN geo AS g ON p.ind = g.ind
    JOIN user AS u ON p.ind = u.ind
),
counts AS (
    SELECT age_group, post_year, follower_count, CAST(COUNT(follower_count) AS BIGINT) AS value_posts
    FROM posts
    WHERE age_group IS NOT NULL AND post_year BETWEEN 2018 AND 2022
    GROUP BY age_group, post_year, follower_count
),
ranked AS (
    SELECT age_group, post_year, follower_count, value_posts,
           SUM(value_posts) OVER (
               PARTITION BY age_group, post_year
               ORDER BY COALESCE(CAST(follower_count AS BIGINT), 4294967296)
           ) AS posts_up_to,
           SUM(value_posts) OVER (PARTITION BY age_group, post_year) AS value_count
    FROM counts
)
SELECT age_group, post_year,
       MAX(CASE WHEN 2 * (posts_up_to - value_posts) < value_count AND value_count <= 2 * posts_up_to
                THEN follower_count END) AS median_follower_count
FROM ranked
GROUP BY age_group, post_year
