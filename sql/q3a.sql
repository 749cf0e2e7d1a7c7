-- q3a: the user(s) with the most followers per country (docs/SPEC.md section 5).
-- Per country (over pin JOIN geo) the highest non-NULL follower_count, and every distinct
-- (country, poster_name, follower_count) row at it. A NULL country or poster_name is a value of its own.
-- A NULL follower_count is no top: MAX skips it and it equals nothing, so it needs no filter of its own (a
-- filter on pin before the join made Polars copy the text of every poster_name joined; BENCHMARKS.md).
WITH counted AS (
    SELECT g.country, p.poster_name, p.follower_count
    FROM pin AS p
    JOIN geo AS g ON p.ind = g.ind
),
ranked AS (
    SELECT country, poster_name, follower_count,
           MAX(follower_count) OVER (PARTITION BY country) AS top_count
    FROM counted
)
SELECT DISTINCT country, poster_name, follower_count
FROM ranked
WHERE follower_count = top_count
