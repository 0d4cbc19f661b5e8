"""MySQL/MariaDB as a run's database: the seed is a schema `lab_seed_<scale>` made once; every run
gets its tables created from the models (keys, indexes and foreign keys as the app expects them)
and filled with `INSERT INTO run.t SELECT * FROM lab_seed_<scale>.t`. MySQL has no database
templates, and `CREATE TABLE ... LIKE` drops foreign keys; this copy is 2-3x faster than
reseeding (measured at 1,000 x 1,000 on MariaDB 10.11: about 14 s against 39 s)."""

from __future__ import annotations

from typing import Any

from benchmarks.stack.databases.base import BackendError, ServerDatabase, refuse_foreign
from shared import db as dbmod
from shared.models import ALL_MODELS
from shared.seed import seed_url

# The seed schema's own table: its fingerprint, written last, so a half-made seed never counts.
SEED_INFO_TABLE = "lab_seed_info"


class MysqlDatabase(ServerDatabase):
    """A run database on a MySQL/MariaDB server, rebuilt from the seed schema on every run."""

    backend = "mysql"
    method = "CREATE TABLE (models) + INSERT ... SELECT from the seed"

    @property
    def seed_what(self) -> str:
        return f"MySQL schema {self.seed_name}"

    def connect_admin(self) -> Any:
        import pymysql

        params = {k: v for k, v in self.params.items() if v is not None}
        params["port"] = int(params["port"])
        try:
            return pymysql.connect(autocommit=True, connect_timeout=10, **params)
        except pymysql.MySQLError as exc:
            raise BackendError(
                f"cannot connect to MySQL at {dbmod.redacted(self.url)}: {exc}"
            ) from None

    def lock(self, cur) -> None:
        cur.execute("SELECT GET_LOCK(%s, 600)", (f"scaling-lab:{self.seed_name}",))

    def server_version(self, cur) -> str:
        cur.execute("SELECT VERSION()")
        return f"MySQL {cur.fetchone()[0]}"

    def _tables(self, cur, schema: str) -> set[str]:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        )
        return {r[0] for r in cur.fetchall()}

    def refuse_foreign(self, cur) -> None:
        refuse_foreign(
            self._tables(cur, self.name),
            f"database {self.name!r}",
            "Name a database of the lab's own in the URL (it is created if missing).",
        )

    def seed_is_current(self, cur) -> bool:
        if SEED_INFO_TABLE not in self._tables(cur, self.seed_name):
            return False
        cur.execute(f"SELECT fingerprint FROM `{self.seed_name}`.`{SEED_INFO_TABLE}`")
        return (cur.fetchone() or [None])[0] == self.fingerprint

    def seed_template(self, cur) -> None:
        template = self.seed_name
        cur.execute(f"DROP DATABASE IF EXISTS `{template}`")
        cur.execute(f"CREATE DATABASE `{template}` CHARACTER SET utf8mb4")
        seed_url(self.url_of(template), self.scale)
        cur.execute(
            f"CREATE TABLE `{template}`.`{SEED_INFO_TABLE}` "
            "(fingerprint VARCHAR(64) NOT NULL, seeded_at DATETIME NOT NULL)"
        )
        cur.execute(
            f"INSERT INTO `{template}`.`{SEED_INFO_TABLE}` VALUES (%s, NOW())", (self.fingerprint,)
        )

    def copy_seed(self, cur) -> None:
        name, template = self.name, self.seed_name
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        self._create_schema()
        # The rows come from a consistent seed: no need to check each foreign key again.
        cur.execute("SET SESSION foreign_key_checks = 0")
        for model in ALL_MODELS:  # parents first
            table = model._meta.table_name
            columns = ", ".join(f"`{f.column_name}`" for f in model._meta.sorted_fields)
            cur.execute(
                f"INSERT INTO `{name}`.`{table}` ({columns}) "
                f"SELECT {columns} FROM `{template}`.`{table}`"
            )
        cur.execute("SET SESSION foreign_key_checks = 1")

    def _create_schema(self) -> None:
        """The run's tables as the models declare them (CREATE TABLE ... LIKE would lose the
        foreign keys)."""
        db = dbmod.make_database(self.url)
        try:
            with db.bind_ctx(ALL_MODELS):
                db.create_tables(ALL_MODELS)
        finally:
            db.close()
