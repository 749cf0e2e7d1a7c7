-- q2b: the most popular category per post year, post years 2018 to 2022 (docs/SPEC.md section 5).
-- The counts of q2a; every category tied at its year's maximum is kept.
WITH posts AS (
    SELECT CAST(EXTRACT(YEAR FROM g.timestamp) AS INTEGER) AS post_year, p.category
    FROM pin AS p
    JOIN geo AS g ON p.ind = g.ind
),
counts AS (
    SELECT post_year, category, CAST(COUNT(*) AS BIGINT) AS category_count
    FROM posts
    WHERE post_year BETWEEN 2018 AND 2022
    GROUP BY post_year, category
),
ranked AS (
    SELECT post_year, category, category_count,
           MAX(category_count) OVER (PARTITION BY post_year) AS top_count
    FROM counts
)
SELECT post_year, category, category_count
FROM ranked
WHERE category_count = top_count
