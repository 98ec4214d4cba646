"""How the admin's policies combine for a user, and the budgets, periods and estimates that
follow (jupyter_mux/hub/policy.py, pure functions)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from jupyter_mux.hub.app import config_policies
from jupyter_mux.hub.policy import estimate, resolve, to_micro

ENTRIES = {
    ("default", ""): {"usd_per_day": 1.0, "allowed_models": ["ollama/*"]},
    ("group", "staff"): {"usd_per_day": 20.0, "allowed_models": ["openai/*"]},
    ("group", "ta"): {
        "usd_per_day": 5.0,
        "usd_per_month": 50.0,
        "allowed_models": ["ollama/*", "anthropic/claude-*"],
        "user_providers": True,
        "group_usd_per_month": 300.0,
    },
    ("user", "alice"): {"usd_per_day": 0.5, "allowed_models": []},
}
NOW = datetime(2026, 12, 31, 23, 59, tzinfo=timezone.utc)


def test_the_most_specific_policy_decides_each_field() -> None:
    nobody = resolve(ENTRIES, "bob", [], user_providers=False)
    assert (nobody.usd_per_day, nobody.usd_per_month) == (1.0, None)
    assert nobody.allowed_models == ("ollama/*",) and not nobody.user_providers
    # Groups are more generous together: the highest budget, every model any allows.
    both = resolve(ENTRIES, "bob", ["ta", "staff"], user_providers=False)
    assert (both.usd_per_day, both.usd_per_month) == (20.0, 50.0)
    assert both.allowed_models == ("openai/*", "ollama/*", "anthropic/claude-*")  # by group
    assert both.user_providers
    # A user's own policy wins, even when it allows less: [] allows no model.
    alice = resolve(ENTRIES, "alice", ["staff"], user_providers=True)
    assert alice.usd_per_day == 0.5 and alice.allowed_models == ()
    assert not alice.allows("ollama", "llama3") and alice.user_providers
    # With no policy at all, everything is allowed and nothing limited.
    free = resolve({}, "bob", ["staff"], user_providers=False)
    assert free.allowed_models is None and free.allows("any", "thing")
    assert free.budgets("bob", NOW) == []


def test_globs_match_provider_slash_model() -> None:
    ta = resolve(ENTRIES, "carol", ["ta"], user_providers=False)
    assert ta.allows("anthropic", "claude-3-5-haiku") and ta.allows("ollama", "qwen:0.5b")
    assert not ta.allows("anthropic", "gpt-4o") and not ta.allows("openai", "claude-x")


def test_budgets_name_their_scope_period_and_reset() -> None:
    ta = resolve(ENTRIES, "carol", ["ta"], user_providers=False)
    budgets = {b.label: b for b in ta.budgets("carol", NOW)}
    assert set(budgets) == {
        "user carol usd_per_day",
        "user carol usd_per_month",
        "group ta usd_per_month",
    }
    day, month = budgets["user carol usd_per_day"], budgets["group ta usd_per_month"]
    assert (day.scope, day.period, day.limit) == ("user:carol", "2026-12-31", 5_000_000)
    assert day.resets_at == datetime(2027, 1, 1, tzinfo=timezone.utc)
    assert (month.scope, month.period, month.limit_usd) == ("group:ta", "2026-12", 300.0)
    assert month.resets_at == datetime(2027, 1, 1, tzinfo=timezone.utc)


def test_the_estimate_is_the_worst_case_at_the_dearest_target() -> None:
    prices = [(1e-6, 2e-6), None, (3e-6, 1e-6)]
    # 300 bytes: 101 prompt tokens; the request's own cap of 10 output tokens.
    worst = estimate({"max_tokens": 10}, 300, prices, output_tokens=4096)
    assert worst == pytest.approx(max(101 * 1e-6 + 10 * 2e-6, 101 * 3e-6 + 10 * 1e-6))
    assert estimate({}, 300, prices, output_tokens=100) == pytest.approx(101 * 3e-6 + 100e-6)
    capped = estimate({"max_output_tokens": 7}, 0, [(0.0, 1.0)], output_tokens=100)
    assert capped == 7.0
    assert estimate({"max_tokens": 10}, 300, [None], output_tokens=10) == 0.0


def test_micro_usd_never_rounds_a_spend_down() -> None:
    assert to_micro(0.1 + 0.2) == 300_000
    assert to_micro(1e-9) == 1
    assert to_micro(0.0) == 0


def test_a_wrong_configured_policy_stops_the_start_with_what_is_wrong() -> None:
    records = config_policies(
        {"default": {"usd_per_day": 1}, "groups": {"staff": {"group_usd_per_day": 9}}}
    )
    assert [(r.scope, r.name, r.body, r.source) for r in records] == [
        ("default", "", {"usd_per_day": 1.0}, "config"),
        ("group", "staff", {"group_usd_per_day": 9.0}, "config"),
    ]
    for wrong, says in (
        ({"teams": {}}, "unknown keys ['teams']"),
        ({"users": {"bob": {"usd_per_day": -1}}}, "users.bob is not valid"),
        ({"users": {"bob": {"group_usd_per_day": 1}}}, "set them on a group.s policy"),
        ({"default": {"budget": 3}}, "default is not valid"),
        ({"groups": ["staff"]}, "must map names"),
    ):
        with pytest.raises(ValueError, match=says.replace("[", r"\[").replace("]", r"\]")):
            config_policies(wrong)


def test_amounts_in_messages_never_read_as_zero_when_they_are_not() -> None:
    from jupyter_mux.hub.guard import usd

    assert [usd(x) for x in (0, 0.001, 0.5, 12.345, 0.0000123)] == [
        "0.00",
        "0.001",
        "0.50",
        "12.35",
        "0.000012",
    ]


def test_the_panel_reads_model_globs_as_the_service_does() -> None:
    """The lab panel greys out models the policy does not allow with its own glob reader
    (labextension/src/helpers/policy.ts, as built into lib/): it must agree with the
    service's `fnmatchcase` on every glob and name, odd sets and unclosed brackets too."""
    import json
    import shutil
    import subprocess
    from fnmatch import fnmatchcase
    from itertools import product
    from pathlib import Path

    built = Path(__file__).parent.parent / "labextension" / "lib" / "helpers" / "policy.js"
    node = shutil.which("node")
    if node is None or not built.exists():
        pytest.skip("needs node and the built lab extension (jlpm build in labextension/)")
    globs = [
        "*", "ollama/*", "ollama/llama3.?:1b", "anthropic/claude-*", "*/qwen*", "open[ab]i/*",
        "x/[!a-c]*", "x/[]]*", "x/[!]]*", "x/[a", "x/a.b", "x/(a|b)", "x/a+", "x/^a$", "x/\\d",
        "x/a\\", "*/*/*", "x/[a-c-]", "x/[^a]", "",
    ]  # fmt: skip
    names = [
        "ollama/llama3.2:1b", "ollama/llama3.22:1b", "ollama/qwen2.5:0.5b", "openai/gpt-4o",
        "openbi/x", "anthropic/claude-3-5-haiku", "x/d", "x/a", "x/]", "x/]z", "x/[a", "x/a.b",
        "x/axb", "x/(a|b)", "x/a", "x/aa", "x/^a$", "x/\\d", "x/5", "x/a\\", "a/b/c", "x/-",
        "x/^", "x/b", "", "x/\nnl",
    ]  # fmt: skip
    script = (
        f"import {{ globRegExp }} from {json.dumps(built.as_uri())};\n"
        "const [globs, names] = JSON.parse(process.argv[1]);\n"
        "console.log(JSON.stringify(globs.map(g => names.map(n => globRegExp(g).test(n)))));"
    )
    result = subprocess.run(
        [node, "--input-type=module", "-e", script, json.dumps([globs, names])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    panel = json.loads(result.stdout)
    service = [[fnmatchcase(n, g) for n in names] for g in globs]
    differ = [
        (g, n, panel[i][j])
        for (i, g), (j, n) in product(enumerate(globs), enumerate(names))
        if panel[i][j] != service[i][j]
    ]
    assert not differ, differ
