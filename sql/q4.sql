-- q4: the most popular category per age group (docs/SPEC.md section 5).
-- Posts per (age group, category) over pin JOIN user; every category tied at its group's maximum is kept.
-- Age groups are inclusive; under 18 (or no age) has no group and is left out.
WITH posts AS (
    SELECT CASE
               WHEN u.age BETWEEN 18 AND 24 THEN '18-24'
               WHEN u.age BETWEEN 25 AND 35 THEN '25-35'
               WHEN u.age BETWEEN 36 AND 50 THEN '36-50'
               WHEN u.age >= 51 THEN '+50'
           END AS age_group,
           p.category
    FROM pin AS p
    JOIN user AS u ON p.ind = u.ind
),
counts AS (
    SELECT age_group, category, CAST(COUNT(*) AS BIGINT) AS category_count
    FROM posts
    WHERE age_group IS NOT NULL
    GROUP BY age_group, category
),
ranked AS (
    SELECT age_group, category, category_count,
           MAX(category_count) OVER (PARTITION BY age_group) AS top_count
    FROM counts
)
SELECT age_group, category, category_count
FROM ranked
WHERE category_count = top_count
