"""The Hub service's organisation store (jupyter_mux/store/org.py): policies, members and
budget counters with holds, on a real database (SQLite here; test_postgres.py runs these
again on PostgreSQL, and the replica test below needs it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from jupyter_mux.store import Store
from jupyter_mux.store.org import Member, Org, PolicyRecord, Refusal, Take

from .pg import PG_URL, SKIP_REASON

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
LATER = NOW + timedelta(hours=1)
DAY, MONTH = "2026-12-01", "2026-12"


@pytest.fixture
def org(empty_db_url: str) -> Iterator[Org]:
    store = Store(empty_db_url)
    store.initialize("check")
    yield Org(store.engine)
    store.dispose()


def test_a_hold_takes_what_is_left_and_a_settle_counts_once(org: Org) -> None:
    takes = [Take("user:alice", DAY, 1_000_000), Take("group:staff", MONTH, 10_000_000)]
    assert org.hold("h1", takes, 700_000, LATER) is None
    # Only 300,000 is left of alice's day: the second hold takes that much, no more.
    assert org.hold("h2", takes, 700_000, LATER) is None
    counters = org.counters([("user:alice", DAY), ("group:staff", MONTH)])
    assert counters == {("user:alice", DAY): (0, 1_000_000), ("group:staff", MONTH): (0, 1_400_000)}
    org.settle([("h1", 250_000), ("h1", 250_000)])  # the same hold twice: counted once
    assert org.counters([("user:alice", DAY)]) == {("user:alice", DAY): (250_000, 300_000)}
    assert org.counters([("group:staff", MONTH)]) == {("group:staff", MONTH): (250_000, 700_000)}
    org.settle([("h2", 100_000)])
    assert org.counters([("user:alice", DAY), ("group:staff", MONTH)]) == {
        ("user:alice", DAY): (350_000, 0),
        ("group:staff", MONTH): (350_000, 0),
    }


def test_a_budget_with_nothing_left_refuses_and_takes_nothing(org: Org) -> None:
    group = Take("group:staff", MONTH, 10_000_000)
    assert org.hold("h1", [Take("user:alice", DAY, 500_000), group], 500_000, LATER) is None
    refusal = org.hold("h2", [Take("user:alice", DAY, 500_000), group], 1, LATER)
    assert refusal == Refusal("user:alice", DAY, 500_000, 0, 500_000)
    # The group's counter, checked before alice's (scope order), kept nothing of the refusal.
    assert org.counters([("group:staff", MONTH)]) == {("group:staff", MONTH): (0, 500_000)}
    org.settle([("h1", 600_000)])  # spent more than held: over the limit now
    refusal = org.hold("h3", [Take("user:alice", DAY, 500_000)], 0, LATER)
    assert refusal == Refusal("user:alice", DAY, 500_000, 600_000, 0)
    # Another period is another counter: the next day starts at nothing.
    assert org.hold("h4", [Take("user:alice", "2026-12-02", 500_000)], 1, LATER) is None


def test_a_lapsed_hold_is_released_and_its_late_spend_still_counts(org: Org) -> None:
    take = [Take("user:bob", DAY, 1_000_000)]
    assert org.hold("h1", take, 400_000, NOW) is None
    assert org.reclaim(NOW + timedelta(seconds=1), NOW - timedelta(days=2)) == 1
    assert org.counters([("user:bob", DAY)]) == {("user:bob", DAY): (0, 0)}
    assert org.reclaim(NOW + timedelta(seconds=2), NOW - timedelta(days=2)) == 0
    org.settle([("h1", 300_000)])
    assert org.counters([("user:bob", DAY)]) == {("user:bob", DAY): (300_000, 0)}
    # A lapsed hold never settled is forgotten after the grace period.
    assert org.hold("h2", take, 100_000, NOW) is None
    org.reclaim(NOW + timedelta(seconds=1), NOW - timedelta(days=2))
    org.reclaim(NOW + timedelta(days=3), NOW + timedelta(days=1))
    org.settle([("h2", 999_999)])
    assert org.counters([("user:bob", DAY)]) == {("user:bob", DAY): (300_000, 0)}


def _policy(scope: str, name: str, source: str, **body: object) -> PolicyRecord:
    return PolicyRecord(scope, name, dict(body), source, NOW)


def test_policies_from_the_config_are_its_own_and_the_apis_stay(org: Org) -> None:
    first = org.policy_revision()
    org.seed_policies(
        [_policy("default", "", "config", usd_per_day=1.0), _policy("group", "staff", "config")]
    )
    assert org.put_policy(_policy("user", "alice", "api", usd_per_day=5.0))
    assert not org.put_policy(_policy("group", "staff", "api", usd_per_day=9.0))
    assert org.put_policy(_policy("user", "alice", "api", usd_per_day=6.0))  # an update
    assert org.delete_policy("group", "staff") == "config"
    assert org.delete_policy("user", "nobody") is None
    # The next start names only the default: the group's config policy goes, alice's stays.
    org.seed_policies([_policy("default", "", "config", usd_per_day=2.0)])
    found = {(p.scope, p.name): (p.body, p.source) for p in org.policies()}
    assert found == {
        ("default", ""): ({"usd_per_day": 2.0}, "config"),
        ("user", "alice"): ({"usd_per_day": 6.0}, "api"),
    }
    assert org.delete_policy("user", "alice") == "api"
    assert [p.scope for p in org.policies()] == ["default"]
    assert int(org.policy_revision()) > int(first)


def test_members_are_written_again_when_the_hub_says_otherwise(org: Org) -> None:
    org.see_member(Member("alice", ("staff",), False, NOW))
    org.see_member(Member("alice", ("staff", "ta"), True, LATER))
    org.see_member(Member("bob", (), False, NOW))
    assert org.members() == [
        Member("alice", ("staff", "ta"), True, LATER),
        Member("bob", (), False, NOW),
    ]


@pytest.mark.skipif(not PG_URL, reason=SKIP_REASON)
def test_replicas_on_postgresql_never_hold_more_than_the_budget_and_count_once() -> None:
    """Two service replicas (two engines, each with its threads) hold and settle at once
    on one budget: what is held never exceeds it, and every spend is counted once."""
    from .pg import Databases

    databases = Databases()
    try:
        url = databases.create("org")
        first, second = Store(url), Store(url)
        first.initialize("check")
        second.initialize("check")
        replicas = [Org(first.engine), Org(second.engine)]
        limit, amount, spend = 10_000_000, 300_000, 200_000
        granted: list[str] = []
        lock = threading.Lock()

        def client(replica: Org, n: int) -> None:
            for i in range(20):
                hold_id = f"{n}-{i}"
                if replica.hold(hold_id, [Take("user:alice", DAY, limit)], amount, LATER) is None:
                    with lock:
                        granted.append(hold_id)
                    replica.settle([(hold_id, spend)])

        threads = [threading.Thread(target=client, args=(replicas[n % 2], n)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        spent, held = replicas[0].counters([("user:alice", DAY)])[("user:alice", DAY)]
        assert held == 0
        assert spent == len(granted) * spend
        # More was asked than the budget allows, so some were refused, and only once little
        # was left: at most one hold's worth per client in flight short of the limit, and
        # past it by at most one spend per client in flight (a capped hold).
        assert len(granted) < 8 * 20
        assert limit - len(threads) * amount <= spent <= limit + len(threads) * spend
        first.dispose()
        second.dispose()
    finally:
        databases.drop_all()
