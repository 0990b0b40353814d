"""product_usage.daily_active_users: active users per day, with 7- and 28-day active users.

Active means at least one feature use that day: sign-ups and billing events are not usage. The
input reaches 27 days before the run's first day, so each day's 28-day count sees its whole
window (as far as events were published). Every day of the run gets a row, zero when quiet.
"""

import duckdb

from mesh.partitions import RunWindow


def daily_active_users(events: duckdb.DuckDBPyRelation, window: RunWindow) -> duckdb.DuckDBPyRelation:
    return events.query(
        "events",
        f"""
        WITH days AS (
            SELECT CAST(day AS DATE) AS activity_date
            FROM range(DATE '{window.start_date}', DATE '{window.end_date}' + 1, INTERVAL 1 DAY) AS t(day)),
        uses AS (  -- one row per day and user, counting its uses: the 28-day join reads these, not every use
            SELECT event_date, user_email, customer_id, count(*) AS uses
            FROM events WHERE event_type = 'feature_used' AND event_date IS NOT NULL
            GROUP BY event_date, user_email, customer_id)
        SELECT d.activity_date,
               count(DISTINCT u.user_email) FILTER (WHERE u.event_date = d.activity_date) AS active_users,
               count(DISTINCT u.customer_id) FILTER (WHERE u.event_date = d.activity_date) AS active_customers,
               count(DISTINCT u.user_email) FILTER (WHERE u.event_date > d.activity_date - 7)
                   AS weekly_active_users,
               count(DISTINCT u.user_email) AS monthly_active_users,
               CAST(coalesce(sum(u.uses) FILTER (WHERE u.event_date = d.activity_date), 0) AS BIGINT) AS feature_uses
        FROM days d LEFT JOIN uses u ON u.event_date BETWEEN d.activity_date - 27 AND d.activity_date
        GROUP BY d.activity_date
        ORDER BY d.activity_date
        """,
    ).query(
        "counts",
        """SELECT *, CASE WHEN monthly_active_users > 0 THEN active_users / monthly_active_users END
                     AS stickiness_ratio
           FROM counts""",
    )
