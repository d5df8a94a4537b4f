"""The weekly bettor stats (betting.stats): the upsert settlement adds its lines with, and the
backfill of settled bets."""

from __future__ import annotations

from django.db import models

# The week a settlement counts in: its Monday, in UTC (PostgreSQL's weeks are ISO weeks).
WEEK = "date_trunc('week', {} AT TIME ZONE 'UTC')::date"


def column(model: type[models.Model], name: str) -> str:
    return model._meta.get_field(name).column


def stats_upsert(stats: type[models.Model], select: str) -> str:
    """INSERT the (user, product, week) sums that ``select`` yields, adding them to any row already
    there. ``select`` groups by the key (one statement may not touch a row twice) and orders by it,
    so two batches take the rows' locks in the same order."""
    c = {name: column(stats, name) for name in
         ("user", "product", "week", "bets", "won", "lost", "void", "staked", "returned")}
    key = ", ".join(c[name] for name in ("user", "product", "week"))
    added = ", ".join(f"{c[name]} = s.{c[name]} + EXCLUDED.{c[name]}"
                      for name in ("bets", "won", "lost", "void", "staked", "returned"))
    return (f"INSERT INTO {stats._meta.db_table} AS s ({', '.join(c.values())}) {select} "
            f"ON CONFLICT ({key}) DO UPDATE SET {added}")


def counted(result: str) -> str:
    return f"count(*) FILTER (WHERE {result} = %(won)s), count(*) FILTER (WHERE {result} = %(lost)s), " \
           f"count(*) FILTER (WHERE {result} = %(void)s)"


def stats_record(stats: type[models.Model]) -> str:
    """Add settled lines, passed as arrays (users, products, results, staked, returned, settled_at),
    to the weekly stats."""
    week = WEEK.format("v.settled_at")
    return stats_upsert(stats, f"""
        SELECT v.user_id, v.product, {week}, count(*), {counted("v.result")}, sum(v.staked), sum(v.returned)
        FROM unnest(%(users)s::bigint[], %(products)s::text[], %(results)s::text[], %(staked)s::numeric[],
                    %(returned)s::numeric[], %(settled_at)s::timestamptz[])
             AS v(user_id, product, result, staked, returned, settled_at)
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""")


def stats_backfill(bet: type[models.Model], stats: type[models.Model]) -> str:
    """The weekly stats of every settled bet, added to the stats table (the models may be a
    migration's historical ones). Takes %(sports)s, %(settled)s and the result values."""
    b = {name: column(bet, name) for name in ("player", "status", "result", "stake", "payout", "settled_at")}
    week = WEEK.format(f"b.{b['settled_at']}")
    return stats_upsert(stats, f"""
        SELECT b.{b['player']}, %(sports)s, {week}, count(*), {counted(f"b.{b['result']}")},
               sum(b.{b['stake']}), sum(coalesce(b.{b['payout']}, 0))
        FROM {bet._meta.db_table} b WHERE b.{b['status']} = %(settled)s
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""")
