"""PostgreSQL as a run's database: the seed is a template database `lab_seed_<scale>` made once
with COPY; every run gets `DROP DATABASE` + `CREATE DATABASE <run> TEMPLATE lab_seed_<scale>`
(a file-level copy done by the server: about a second for a million reviews)."""

from __future__ import annotations

from typing import Any

from benchmarks.stack.databases.base import BackendError, ServerDatabase, refuse_foreign
from shared import db as dbmod
from shared.seed import seed_url


def _drop(cur, name: str) -> None:
    cur.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    )
    cur.execute(f'DROP DATABASE IF EXISTS "{name}"')


class PostgresDatabase(ServerDatabase):
    """A run database on a PostgreSQL server, recreated from the seed template on every run;
    the template's comment holds the seed's fingerprint."""

    backend = "postgresql"
    method = "DROP DATABASE + CREATE DATABASE ... TEMPLATE"

    @property
    def seed_what(self) -> str:
        return f"PostgreSQL template {self.seed_name}"

    @property
    def marker(self) -> str:
        return f"scaling-lab seed {self.fingerprint}"

    def connect_admin(self) -> Any:
        import psycopg2

        try:
            conn = psycopg2.connect(dbname="postgres", connect_timeout=10, **self.params)
        except psycopg2.Error as exc:
            raise BackendError(
                f"cannot connect to PostgreSQL at {dbmod.redacted(self.url)}: {str(exc).strip()}"
            ) from None
        conn.autocommit = True
        return conn

    def lock(self, cur) -> None:
        cur.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"scaling-lab:{self.seed_name}",))

    def server_version(self, cur) -> str:
        cur.execute("SHOW server_version")
        return f"PostgreSQL {cur.fetchone()[0]}"

    def refuse_foreign(self, cur) -> None:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.name,))
        if cur.fetchone():
            refuse_foreign(
                self._tables(),
                f"database {self.name!r}",
                "Name a database of the lab's own in the URL (it is created if "
                f"missing), e.g. {dbmod.redacted(self.url_of('lab'))}",
            )

    def _tables(self) -> set[str]:
        """The run database's tables (it is another database: another connection)."""
        import psycopg2

        conn = psycopg2.connect(dbname=self.name, connect_timeout=10, **self.params)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN "
                    "('pg_catalog', 'information_schema')"
                )
                return {t if s == "public" else f"{s}.{t}" for s, t in cur.fetchall()}
        finally:
            conn.close()

    def seed_is_current(self, cur) -> bool:
        cur.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (self.seed_name,),
        )
        row = cur.fetchone()
        return bool(row) and row[0] == self.marker

    def seed_template(self, cur) -> None:
        """Seed a new template beside the old one, then swap: a half-made seed is never used."""
        template = self.seed_name
        building = f"{template}_building"
        _drop(cur, building)
        cur.execute(f'CREATE DATABASE "{building}"')
        seed_url(self.url_of(building), self.scale)
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,))
        if cur.fetchone():
            cur.execute(f'ALTER DATABASE "{template}" IS_TEMPLATE false')
            _drop(cur, template)
        cur.execute(f'ALTER DATABASE "{building}" RENAME TO "{template}"')
        cur.execute(f'COMMENT ON DATABASE "{template}" IS %s', (self.marker,))
        cur.execute(f'ALTER DATABASE "{template}" IS_TEMPLATE true')

    def copy_seed(self, cur) -> None:
        _drop(cur, self.name)
        cur.execute(f'CREATE DATABASE "{self.name}" TEMPLATE "{self.seed_name}"')
        cur.execute(
            f'COMMENT ON DATABASE "{self.name}" IS %s',
            (f"scaling-lab run database: a copy of {self.seed_name}, remade by every run",),
        )
