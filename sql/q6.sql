-- q6: users joined per join year, join years 2015 to 2020 (docs/SPEC.md section 5).
-- Distinct persons (user_name, age, date_joined) of the user table, counted by the year of date_joined.
WITH persons AS (
    SELECT DISTINCT user_name, age, date_joined
    FROM user
),
joined AS (
    SELECT CAST(EXTRACT(YEAR FROM date_joined) AS INTEGER) AS join_year
    FROM persons
)
SELECT join_year AS post_year, CAST(COUNT(*) AS BIGINT) AS number_users_joined
FROM joined
WHERE join_year BETWEEN 2015 AND 2020
GROUP BY join_year
