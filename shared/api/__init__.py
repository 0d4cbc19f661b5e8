"""The REST API under /api, built from the adapters a stage chooses."""

from shared.api.app import create_api

__all__ = ["create_api"]
