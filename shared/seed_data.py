"""What the seed holds: the scale, the generated rows (specialists, reviews, the demo user's
login) and the fingerprint that says when a stored seed is stale. Deterministic: one rng seed."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

from shared.models import ALL_MODELS

DEMO_EMAIL = "email@example.com"
DEMO_PASSWORD = "12345678"
SEED_TIME = "2024-01-01 00:00:00"
SPECIALTIES = [
    "Cardiology",
    "Dermatology",
    "Endocrinology",
    "Gastroenterology",
    "Neurology",
    "Oncology",
    "Ophthalmology",
    "Orthopedics",
    "Pediatrics",
    "Psychiatry",
]
FIRST = [
    "Ana",
    "Bruno",
    "Carla",
    "Diego",
    "Elisa",
    "Fabio",
    "Gabriela",
    "Hugo",
    "Ines",
    "Joao",
    "Karina",
    "Lucas",
    "Marina",
    "Nuno",
    "Olivia",
    "Paulo",
    "Rita",
    "Sergio",
    "Tania",
    "Vitor",
]
LAST = [
    "Almeida",
    "Barros",
    "Costa",
    "Dias",
    "Esteves",
    "Ferreira",
    "Gomes",
    "Lima",
    "Moura",
    "Nunes",
    "Oliveira",
    "Pereira",
    "Ramos",
    "Santos",
    "Teixeira",
    "Vieira",
]
COMMENTS = [
    None,
    None,
    "Great doctor.",
    "Very attentive.",
    "Long wait, good care.",
    "Explained everything clearly.",
    "Would not come back.",
    "Excellent follow-up.",
]


@dataclass(frozen=True)
class Scale:
    """How much data to seed."""

    specialists: int = 1000
    reviews_per_specialist: int = 1000
    rng_seed: int = 42

    @property
    def label(self) -> str:
        return f"{self.specialists}x{self.reviews_per_specialist}"


# Bump when the generated rows change in a way the constants above do not show.
SEED_FORMAT = 1


def fingerprint(scale: Scale) -> str:
    """Identify a seed: the generator (format, constants), the scale and the schema of every
    table. A stored seed whose fingerprint differs from the code's is stale and is reseeded."""
    schema = [
        (
            m._meta.table_name,
            [
                (f.column_name, f.field_type, f.null, bool(f.unique), bool(f.index))
                for f in m._meta.sorted_fields
            ],
            m._meta.indexes,
        )
        for m in ALL_MODELS
    ]
    ident = [
        SEED_FORMAT,
        scale.specialists,
        scale.reviews_per_specialist,
        scale.rng_seed,
        SEED_TIME,
        SPECIALTIES,
        FIRST,
        LAST,
        COMMENTS,
        DEMO_EMAIL,
        schema,
    ]
    return hashlib.sha256(json.dumps(ident, default=str).encode()).hexdigest()[:16]


def specialist_rows(scale: Scale, rng: random.Random) -> list[tuple]:
    """Build the specialists' rows: (id, crm, name, specialty, email, created, updated)."""
    rows = []
    for i in range(scale.specialists):
        name = f"Dr. {rng.choice(FIRST)} {rng.choice(LAST)}"
        rows.append(
            (
                rng.getrandbits(128).to_bytes(16, "big").hex(),
                f"CRM-{i + 1:06d}",
                name,
                SPECIALTIES[i % len(SPECIALTIES)],
                f"specialist{i + 1}@example.com",
                SEED_TIME,
                SEED_TIME,
            )
        )
    return rows


def review_rows(specialist_ids: list[str], scale: Scale, rng: random.Random) -> Iterator[tuple]:
    """Yield reviews: (id, specialist_id, rating, comment, created, updated).

    Each specialist gets a floor rating of their own, so averages differ and the top-10 is stable.
    """
    bits, rnd, comments = rng.getrandbits, rng.random, COMMENTS
    n_comments = len(comments)
    for sid in specialist_ids:
        floor = 1 + int(rnd() * 6)
        span = 11 - floor
        for _ in range(scale.reviews_per_specialist):
            yield (
                bits(128).to_bytes(16, "big").hex(),
                sid,
                floor + int(rnd() * span),
                comments[int(rnd() * n_comments)],
                SEED_TIME,
                SEED_TIME,
            )
