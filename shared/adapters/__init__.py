"""Adapters a stage chooses between: mail, authentication, top-rated queries, report storage."""
