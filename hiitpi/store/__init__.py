"""The history: SQLite through SQLAlchemy 2.x, schema by Alembic migrations applied at start-up.

- `Store.open(path)`: open/create the file (WAL, foreign keys, busy timeout) and upgrade it.
- `SessionRecorder`: the live engine's non-blocking writer (batches every ~0.5 s).
- `recover_open_sessions`: close sessions a crash left open, keeping their reps.
- `hiitpi.store.queries`, `.players`, `.export`, `.coaching`: what the pages and the coach read;
  `.chat`: the conversations with the coach.
"""

from hiitpi.store.db import Store
from hiitpi.store.errors import InvalidInput, NotFound, StoreError
from hiitpi.store.recorder import SessionRecorder
from hiitpi.store.recovery import recover_open_sessions

__all__ = ["InvalidInput", "NotFound", "SessionRecorder", "Store", "StoreError", "recover_open_sessions"]
