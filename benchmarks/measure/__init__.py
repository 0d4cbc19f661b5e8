"""Measure a run of the bench: verify, probe, load with Locust, sample CPU, drain the mails."""
