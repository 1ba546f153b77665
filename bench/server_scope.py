"""The server list and its search, scoped to a user's teams against unscoped, at 10,000 servers and 50 teams.

Both sides are the portal's own listing (portal.interfaces.selectors.server_list, audited SCP calls and all).
Unscoped is a member of a team that owns every server (`*`: one SCP call, what every requester saw before
teams). 50 teams each own a name pattern (node-0NN*, 100 servers each); the scoped users are a member of one
team, and of three. The simulator adds --latency-ms to every call.
Usage: python bench/server_scope.py [--servers 10000] [--teams 50] [--latency-ms 20] [--runs 30]
The last line is ratio=<worst scoped median / unscoped median> over the list and search.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._harness import stack  # noqa: E402


def timed(fn, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    sim_args = ["--servers", str(args.servers), "--latency-ms", str(args.latency_ms)]
    with stack(sim_args=sim_args, env={}, with_portal=False) as (environment, _):
        os.environ.update(environment)
        os.environ["DATABASE_URL"] = "sqlite://:memory:"
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from django.contrib.auth import get_user_model

        from portal.interfaces.selectors import server_list
        from portal.teams.models import ServerOwnership, Team

        teams = []
        for n in range(args.teams):
            team = Team.objects.create(name=f"team-{n:02d}")
            ServerOwnership.objects.create(team=team, kind="name_pattern", value=f"node-0{n:02d}*")
            teams.append(team)
        User = get_user_model()
        one = User.objects.create(username="one-team")
        one.teams.add(teams[25])
        three = User.objects.create(username="three-teams")
        three.teams.add(teams[3], teams[25], teams[47])
        everything = Team.objects.create(name="everything")
        ServerOwnership.objects.create(team=everything, kind="name_pattern", value="*")
        everyone = User.objects.create(username="everything")
        everyone.teams.add(everything)

        def fresh(user):
            return User.objects.get(pk=user.pk)  # each page view reads the user's teams afresh

        def unscoped(name=""):
            return server_list(user=fresh(everyone), name=name)

        cases = {
            "list": (lambda: unscoped(), {u: (lambda u=u: server_list(user=fresh(u))) for u in (one, three)}),
            "search": (
                lambda: unscoped("node-025"),
                {u: (lambda u=u: server_list(user=fresh(u), name="node-025")) for u in (one, three)},
            ),
        }
        print(f"servers={args.servers} teams={args.teams} latency_ms={args.latency_ms:g} runs={args.runs}")
        worst = 0.0
        for label, (base, scoped) in cases.items():
            for user, fn in scoped.items():
                assert fn().servers, f"{label} for {user.username} found nothing"
            base_median = timed(base, args.runs)
            print(f"{label:7} unscoped (a team owning *):   {base_median * 1000:7.1f} ms")
            for user, fn in scoped.items():
                median = timed(fn, args.runs)
                worst = max(worst, median / base_median)
                ratio = median / base_median
                print(f"{label:7} scoped, {user.username:12}        {median * 1000:7.1f} ms  ({ratio:.2f}x)")
    print(f"ratio={worst:.2f}")


if __name__ == "__main__":
    main()
