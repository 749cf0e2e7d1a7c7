-- q1: the most popular category per country (docs/SPEC.md section 5).
-- Posts per (country, category) over pin JOIN geo; every category tied at its country's maximum is kept.
-- A NULL country or category is a group of its own.
WITH counts AS (
    SELECT g.country, p.category, CAST(COUNT(*) AS BIGINT) AS category_count
    FROM pin AS p
    JOIN geo AS g ON p.ind = g.ind
    GROUP BY g.country, p.category
),
ranked AS (
    SELECT country, category, category_count,
           MAX(category_count) OVER (PARTITION BY country) AS top_count
    FROM counts
)
SELECT country, category, category_count
FROM ranked
WHERE category_count = top_count
