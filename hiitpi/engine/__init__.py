"""The live engine: capture → pose stage → referees → sinks (store, live bus, video).

See docs/architecture.md for the parts and the flow of a frame.
"""

from hiitpi.engine.core import Engine, EngineError
from hiitpi.engine.session import DEFAULT_PLAYER, SessionController, SessionRefused
from hiitpi.engine.sessionstate import Session, SessionChange
from hiitpi.engine.sinks import EngineSink, FrameResult, Recorder

__all__ = [
    "DEFAULT_PLAYER",
    "Engine",
    "EngineError",
    "EngineSink",
    "FrameResult",
    "Recorder",
    "Session",
    "SessionChange",
    "SessionController",
    "SessionRefused",
]
