"""Opt-in console logging for job scripts and notebooks (the library itself never adds handlers)."""

from __future__ import annotations

import logging

_HANDLER_NAME = "sparkdl_kit-console"


def log_to_stderr(level: int | str = logging.INFO) -> None:
    """Shows the toolkit's log lines (progress, worker output prefixed by rank) on stderr.

    Only the ``sparkdl_kit`` loggers get a handler, and they stop propagating to the root logger, so a
    line is shown once even where another library configured the root logger; other libraries' INFO
    chatter (py4j's retries, for example) stays hidden. Calling it twice adds one handler, not two.

    Example:
        >>> import sparkdl_kit as sdk
        >>> sdk.log_to_stderr()          # then: 12:00:01 sparkdl_kit.worker: [rank 0] epoch 1/5: ...
    """
    logger = logging.getLogger("sparkdl_kit")
    logger.setLevel(level)
    logger.propagate = False
    if not any(h.get_name() == _HANDLER_NAME for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S"))
        logger.addHandler(handler)
