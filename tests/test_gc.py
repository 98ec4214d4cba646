"""Once the server runs, its start-up objects are frozen out of the garbage collector's way
(`c.MuxApp.freeze_gc`): full collections under load then walk only what was made since."""

from __future__ import annotations

import asyncio
import gc

from .conftest import Api


async def test_start_up_objects_are_frozen_once_the_server_runs(jp_fetch):
    try:
        status, _ = await Api(jp_fetch)("GET", "active")
        assert status == 200
        for _ in range(50):  # the freeze runs once the loop turns after start-up
            if gc.get_freeze_count():
                break
            await asyncio.sleep(0.05)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # the test process's later objects are not the server's
