-- q2a: posts per category per post year, post years 2018 to 2022 (docs/SPEC.md section 5).
-- Post year = the year of geo's timestamp, over pin JOIN geo.
WITH posts AS (
    SELECT CAST(EXTRACT(YEAR FROM g.timestamp) AS INTEGER) AS post_year, p.category
    FROM pin AS p
    JOIN geo AS g ON p.ind = g.ind
)
SELECT post_year, category, CAST(COUNT(*) AS BIGINT) AS category_count
FROM posts
WHERE post_year BETWEEN 2018 AND 2022
GROUP BY post_year, category
