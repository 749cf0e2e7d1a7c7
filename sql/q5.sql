-- q5: the median follower_count per age group (docs/SPEC.md section 5), over pin JOIN user.
-- The exact lower median of the non-NULL values: sorted, the value at 1-based position ceil(n / 2). The posts
-- are counted per group and value first (a few thousand distinct values, not a row per post; NULL counts none);
-- a value whose c posts are the last of the u posts up to it is the median when 2(u - c) < n <= 2u, n the
-- group's non-NULL posts (no division: engines divide integers differently). A group with no value has a NULL
-- median. Under 18 (or no age) has no group.
WITH posts AS (
    SELECT CASE
               WHEN u.age BETWEEN 18 AND 24 THEN '18-24'
               WHEN u.age BETWEEN 25 AND 35 THEN '25-35'
               WHEN u.age BETWEEN 36 AND 50 THEN '36-50'
               WHEN u.age >= 51 THEN '+50'
           END AS age_group,
           p.follower_count
    FROM pin AS p
    JOIN user AS u ON p.ind = u.ind
),
counts AS (
    SELECT age_group, follower_count, CAST(COUNT(follower_count) AS BIGINT) AS value_posts
    FROM posts
    WHERE age_group IS NOT NULL
    GROUP BY age_group, follower_count
),
ranked AS (
    SELECT age_group, follower_count, value_posts,
           SUM(value_posts) OVER (
               PARTITION BY age_group
               ORDER BY COALESCE(CAST(follower_count AS BIGINT), 4294967296)
           ) AS posts_up_to,
           SUM(value_posts) OVER (PARTITION BY age_group) AS value_count
    FROM counts
)
SELECT age_group,
       MAX(CASE WHEN 2 * (posts_up_to - value_posts) < value_count AND value_count <= 2 * posts_up_to
                THEN follower_count END) AS median_follower_count
FROM ranked
GROUP BY age_group
