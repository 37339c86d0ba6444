"""The page's commands in words: run a start, stop, switch or correct on the session controller
and say what happened (or why it was refused) in a line fit to show on a phone.

The controller decides (`hiitpi.engine.session`); this module only phrases. The engine sends the
answer back to the page in the live state's ``cmd_*`` fields.
"""

from __future__ import annotations

import logging

from hiitpi.engine.session import DEFAULT_PLAYER, SessionController, SessionRefused
from hiitpi.live.contract import LiveCommand, validate_command

log = logging.getLogger("hiitpi.engine.session")


def answer(controller: SessionController, cmd: LiveCommand) -> tuple[bool, str]:
    """Run a start/stop/switch/correct command from the page on ``controller``; (ok, a message
    fit to show: what happened, or why it was refused)."""
    try:
        problem = validate_command(cmd.action, cmd.player, cmd.workout, cmd.counting)
        if problem:
            raise SessionRefused(problem)
        if cmd.action == "start":
            s = controller.start(
                cmd.player or DEFAULT_PLAYER, cmd.workout or controller.settings.referee.workout, cmd.counting
            )
            if not s.started:  # auto mode, a free circuit: the session opens at the first rep
                what = controller.catalog.title(s.program_name) if s.program is not None else "Auto mode"
                return True, f"{what} for {s.player}: waiting for the first rep."
            title = controller.catalog.title(s.program_name or s.workout)
            where = f" (session {s.store_id})" if s.store_id is not None else ""
            return True, f"Started {title} for {s.player}{where}."
        if cmd.action == "switch":
            controller.switch(cmd.workout or "")
            return True, f"Switched to {controller.catalog.title(controller.session.workout)}."
        if cmd.action == "correct":
            controller.correct(cmd.workout or "")
            s = controller.session
            return True, f"Corrected to {controller.catalog.title(s.workout)}: {s.referee.count} reps."
        s = controller.stop("done")
        if not s.started:
            return True, "Stopped: auto mode was still waiting for a first rep, nothing saved."
        where = f"session {s.store_id}" if s.store_id is not None else "the session"
        return True, f"Stopped: {where} saved, {s.total_reps} reps."
    except SessionRefused as exc:
        log.warning("command %s %s refused: %s", cmd.id, cmd.action, exc.message)
        return False, exc.message
