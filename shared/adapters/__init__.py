"""Adapters a stage chooses between: mail delivery, authentication, top-rated queries, report storage."""
