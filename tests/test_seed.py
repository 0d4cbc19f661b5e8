"""The bulk seeder at the small scale: counts, determinism, constraints, atomic file writes, and
the PostgreSQL (COPY) and MariaDB (executemany) paths."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg2
import pytest
from lab_servers import mysql_connect

from shared import pgcopy, seed
from shared.passwords import verify_password
from shared.seed import DEMO_EMAIL, DEMO_PASSWORD, Scale, seed_sqlite_file, seed_url

ROOT = Path(__file__).resolve().parents[1]
SMALL = Scale(20, 20)


def rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def ids(path: Path, table: str) -> list[str]:
    return [str(uuid.UUID(r[0])) for r in rows(path, f"SELECT id FROM {table} ORDER BY id")]


def test_counts_at_the_small_scale(seed_template_file):
    ((specialists,),) = rows(seed_template_file, "SELECT COUNT(*) FROM specialists")
    ((reviews,),) = rows(seed_template_file, "SELECT COUNT(*) FROM reviews")
    assert specialists == 20
    assert reviews == 20 * 20
    per_specialist = rows(seed_template_file, "SELECT COUNT(*) FROM reviews GROUP BY specialist_id")
    assert sorted(n for (n,) in per_specialist) == [20] * 20
    orphans = rows(
        seed_template_file,
        "SELECT COUNT(*) FROM reviews r LEFT JOIN specialists s "
        "ON s.id = r.specialist_id WHERE s.id IS NULL",
    )
    assert orphans == [(0,)]


def test_one_demo_user_with_an_argon2id_hash(seed_template_file):
    users = rows(seed_template_file, "SELECT email, password_hash FROM users")
    assert len(users) == 1
    email, password_hash = users[0]
    assert email == DEMO_EMAIL
    assert password_hash.startswith("$argon2id$")
    assert DEMO_PASSWORD not in password_hash
    assert verify_password(password_hash, DEMO_PASSWORD)
    assert not verify_password(password_hash, DEMO_PASSWORD + "x")


def test_unique_crm_and_email_and_ratings_in_range(seed_template_file):
    crms = rows(seed_template_file, "SELECT crm FROM specialists")
    emails = rows(seed_template_file, "SELECT email FROM specialists")
    assert len(set(crms)) == len(crms) == 20
    assert len(set(emails)) == len(emails) == 20
    ((low, high),) = rows(seed_template_file, "SELECT MIN(rating), MAX(rating) FROM reviews")
    assert 1 <= low <= high <= 10
    # Averages differ between specialists (each has a floor), so the top-10 means something.
    averages = rows(seed_template_file, "SELECT AVG(rating) FROM reviews GROUP BY specialist_id")
    assert len({a for (a,) in averages}) > 10


def test_the_schema_enforces_the_rules(seed_template_file, tmp_path):
    db = tmp_path / "copy.sqlite3"
    db.write_bytes(seed_template_file.read_bytes())
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA foreign_keys = ON")
    sid, crm = conn.execute("SELECT id, crm FROM specialists LIMIT 1").fetchone()
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO reviews (id, specialist_id, rating, created_at, updated_at) "
            "VALUES ('x', ?, 11, '2024-01-01', '2024-01-01')",
            (sid,),
        )
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO specialists (id, crm, name, specialty, email, created_at, "
            "updated_at) VALUES ('y', ?, 'n', 's', 'new@example.com', '2024', '2024')",
            (crm,),
        )
    conn.execute("DELETE FROM specialists WHERE id = ?", (sid,))  # ON DELETE CASCADE
    assert conn.execute(
        "SELECT COUNT(*) FROM reviews WHERE specialist_id = ?", (sid,)
    ).fetchone() == (0,)
    assert conn.execute("SELECT COUNT(*) FROM reviews").fetchone() == (19 * 20,)
    conn.close()


def test_same_seed_gives_the_same_data_another_seed_other_data(seed_template_file, tmp_path):
    again = seed_sqlite_file(tmp_path / "again.sqlite3", SMALL)
    for table in ("specialists", "reviews"):
        assert ids(again, table) == ids(seed_template_file, table)
    everything = "SELECT id, specialist_id, rating, comment FROM reviews ORDER BY id"
    assert rows(again, everything) == rows(seed_template_file, everything)

    other = seed_sqlite_file(tmp_path / "other.sqlite3", Scale(20, 20, rng_seed=7))
    assert set(ids(other, "specialists")).isdisjoint(ids(seed_template_file, "specialists"))


def test_seeding_replaces_an_existing_file_only_when_complete(tmp_path, monkeypatch):
    target = tmp_path / "lab.sqlite3"
    target.write_bytes(b"the previous database")
    seen = []
    real_fill = seed.fill

    def watching_fill(db, scale):
        real_fill(db, scale)
        # Every row is written by now, yet the target is still the old file, untouched.
        seen.append(target.read_bytes())
        assert Path(db.database) != target and Path(db.database).parent == target.parent

    monkeypatch.setattr(seed, "fill", watching_fill)
    seed_sqlite_file(target, Scale(3, 2))
    assert seen == [b"the previous database"]
    assert rows(target, "SELECT COUNT(*) FROM reviews") == [(6,)]
    assert [p.name for p in tmp_path.iterdir()] == ["lab.sqlite3"]  # no temporary left over


def test_a_failed_seed_leaves_the_target_as_it_was(tmp_path, monkeypatch):
    target = tmp_path / "lab.sqlite3"
    target.write_bytes(b"the previous database")
    fresh = tmp_path / "fresh.sqlite3"

    def failing_fill(db, scale):
        db.execute_sql("CREATE TABLE half (x)")
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(seed, "fill", failing_fill)
    with pytest.raises(RuntimeError, match="disk full"):
        seed_sqlite_file(target, Scale(3, 2))
    with pytest.raises(RuntimeError, match="disk full"):
        seed_sqlite_file(fresh, Scale(3, 2))
    assert target.read_bytes() == b"the previous database"
    assert not fresh.exists()  # no half-built database at the target path


@pytest.mark.postgres
def test_seeding_postgresql_uses_copy(postgres_url, seed_template_file, monkeypatch):
    copies = []
    real_copy = pgcopy.copy_rows

    def counting_copy(cursor, table, columns, rows_, **options):
        copies.append((table, options.get("freeze")))
        return real_copy(cursor, table, columns, rows_, **options)

    monkeypatch.setattr(pgcopy, "copy_rows", counting_copy)
    seed_url(postgres_url, SMALL)
    # COPY FREEZE: the tables are created in the seeding transaction.
    assert copies == [("specialists", True), ("reviews", True)]
    with psycopg2.connect(postgres_url) as conn, conn.cursor() as cur:
        counts = {}
        for table in ("specialists", "reviews", "users"):
            cur.execute(f"SELECT COUNT(*) FROM {table}")
            counts[table] = cur.fetchone()[0]
        assert counts == {"specialists": 20, "reviews": 400, "users": 1}
        cur.execute("SELECT id FROM specialists ORDER BY id")
        pg_ids = sorted(str(r[0]) for r in cur.fetchall())
        cur.execute("SELECT COUNT(*) FROM reviews WHERE comment IS NULL")
        pg_null_comments = cur.fetchone()[0]
        cur.execute("SELECT password_hash FROM users")
        assert verify_password(cur.fetchone()[0], DEMO_PASSWORD)
    conn.close()
    # The same rows as the SQLite seed: the same generator, only the loading differs.
    assert pg_ids == sorted(ids(seed_template_file, "specialists"))
    assert rows(seed_template_file, "SELECT COUNT(*) FROM reviews WHERE comment IS NULL") == [
        (pg_null_comments,)
    ]


@pytest.mark.postgres
@pytest.mark.parametrize("key_type", ["int", "numeric"], ids=["binary-copy", "text-copy"])
def test_copy_keeps_awkward_text(postgres_url, key_type):
    """Tabs, newlines, carriage returns, backslashes and NULL survive COPY, in both formats
    (binary when every column type has an encoder; text otherwise, e.g. with a numeric)."""
    awkward = [
        "tab\there",
        "new\nline",
        "carriage\rreturn",
        "crlf\r\nend",
        "back\\slash",
        "\\N",
        None,
        "plain",
    ]
    with psycopg2.connect(postgres_url) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE t (n {key_type}, v text)")
        pgcopy.copy_rows(cur, "t", ("n", "v"), list(enumerate(awkward)), chunk=3)
        cur.execute("SELECT v FROM t ORDER BY n")
        assert [r[0] for r in cur.fetchall()] == awkward
    conn.close()


def test_seeding_mariadb(mysql_url):
    seed_url(mysql_url, Scale(5, 4))
    seed_url(mysql_url, Scale(6, 3))  # seeding again replaces what was there
    conn = mysql_connect(mysql_url)
    try:
        with conn.cursor() as cur:
            counts = {}
            for table in ("specialists", "reviews", "users"):
                cur.execute(f"SELECT COUNT(*) FROM {table}")
                counts[table] = cur.fetchone()[0]
    finally:
        conn.close()
    assert counts == {"specialists": 6, "reviews": 18, "users": 1}


@pytest.mark.processes
def test_the_command_line_seeds_a_file(tmp_path):
    target = tmp_path / "cli.sqlite3"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "shared.seed",
            "--url",
            f"sqlite:///{target}",
            "--specialists",
            "4",
            "--reviews-per-specialist",
            "3",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "seeded" in result.stdout
    assert rows(target, "SELECT COUNT(*) FROM reviews") == [(12,)]
    assert rows(target, "SELECT COUNT(*) FROM specialists") == [(4,)]
