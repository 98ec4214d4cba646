"""PostgreSQL for the tests: a fresh database per test on the server that
JUPYTER_MUX_TEST_PG_URL points at (`bash .ci/postgres.sh` starts one and prints its URL)."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from glob import glob

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ENV = "JUPYTER_MUX_TEST_PG_URL"
PG_URL = os.environ.get(ENV, "")
SKIP_REASON = (
    f"PostgreSQL tests need {ENV}, e.g. "
    f'export {ENV}="$(bash .ci/postgres.sh)" (a server on 127.0.0.1 whose role may CREATE '
    "DATABASE)"
)

_counter = itertools.count()


class Databases:
    """Makes a new, empty database per test, and drops them all at the end of the session.

    Not dropped test by test: pytest-jupyter stops the server (and the mux flushes its usage
    log into the database) in an autouse fixture torn down after the test's own fixtures."""

    def __init__(self) -> None:
        self.engine = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
        self.names: list[str] = []

    def create(self, label: str = "t") -> str:
        name = f"mux_{label}_{os.getpid()}_{next(_counter)}"
        with self.engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        self.names.append(name)
        return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.engine.connect() as conn:
            for name in self.names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.names.clear()
        self.engine.dispose()


def pg_dump(url: str) -> str | None:
    """`pg_dump --data-only` of the database, or None when no pg_dump is installed."""
    candidates = sorted(glob("/usr/lib/postgresql/*/bin/pg_dump"))
    tool = candidates[-1] if candidates else shutil.which("pg_dump")
    if tool is None:
        return None
    u = make_url(url)
    env = {**os.environ, "PGPASSWORD": u.password or ""}
    args = [tool, "--data-only", "-h", u.host or "127.0.0.1", "-p", str(u.port or 5432)]
    args += ["-U", u.username or "postgres", u.database or ""]
    return subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout
