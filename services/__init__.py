"""The three Connect services.  Each folder has the same shape:

- `domain/`      plain Python: aggregates, rules, the events they record
- `interfaces.py` the service's own ports (repositories, search index, clients)
- `adapters/`    implementations of those ports (ORM tables, engines)
- `services.py`  use cases: functions/handlers run inside a unit of work
- `api.py`       the thin FastAPI router
- `tasks.py`     event consumers and periodic jobs (what runs outside a request)
- `bootstrap.py` `wire(container)`: builds the service from the platform's ports
- `migrations/`  the service's own Alembic history (own version table)

Services share only `schemas/` and the `connect` platform package, never tables.
"""
