-- q5: the median follower_count per age group (docs/SPEC.md section 5), over pin JOIN user.
-- The exact lower median of the non-NULL values: sorted, the value at 1-based position ceil(n / 2), that is
-- the row whose rank r has 2r - 1 <= n <= 2r (no division: engines divide integers differently). NULLs rank
-- after every value; a group with no value has a NULL median. Under 18 (or no age) has no group.
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
ranked AS (
    SELECT age_group, follower_count,
           ROW_NUMBER() OVER (
               PARTITION BY age_group
               ORDER BY COALESCE(CAST(follower_count AS BIGINT), 4294967296)
           ) AS value_rank,
           COUNT(follower_count) OVER (PARTITION BY age_group) AS value_count
    FROM posts
    WHERE age_group IS NOT NULL
)
SELECT age_group,
       MAX(CASE WHEN 2 * value_rank - 1 <= value_count AND value_count <= 2 * value_rank
                THEN follower_count END) AS median_follower_count
FROM ranked
GROUP BY age_group
