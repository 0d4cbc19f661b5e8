"""The domain package every stage uses: models, services, API resources and adapters.

Nothing here imports a stage or the benchmark harness. A stage picks adapters from
``shared.adapters`` and hands them to ``shared.api.create_api``.
"""
