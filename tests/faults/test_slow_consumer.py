"""Fault 5 (H1, H7): a dashboard that stops reading its websocket.

While one client reads nothing, the others keep receiving every event promptly; the
slow one, once it reads again, ends up with every event exactly once and in order,
either from what the server still held for it or, if the server dropped it, by
reconnecting with `?since=`."""

from __future__ import annotations

import time

from tests.faults.flow import Feeder, report_counts
from tests.faults.harness import DashboardClient, log, wait_for
from tests.faults.world import counts, settled


def test_slow_websocket_consumer_holds_nobody_back_and_resyncs(stack, make_world, fake_twilio):
    world = make_world(patients=12, label="slow")
    fast = [DashboardClient(stack.ws_url, world.staff_token, name=f"fast{i}").start() for i in range(2)]
    slow = DashboardClient(stack.ws_url, world.staff_token, name="slow", max_queue=1).start()
    clients = [*fast, slow]
    feeder = Feeder(stack, world)
    try:
        log("INJECT: client `slow` stops reading its socket")
        slow.stop_reading()
        started = time.monotonic()
        feeder.run_for(25, every=0.4)
        stored = counts(world, fake_twilio).events_stored
        for client in fast:
            wait_for(lambda c=client: set(stored) <= set(c.seqs), timeout=30, what=f"{client.name} keeps up")
        fast_done = time.monotonic() - started
        slow_while_stalled = len(slow.events)
        log(f"HEAL: client `slow` reads again (it had {slow_while_stalled} of {len(stored)} events)")
        slow.resume_reading()
        wait_for(lambda: set(stored) <= set(slow.seqs), timeout=90, interval=1, what="slow client resynced")
        wait_for(lambda: settled(world), timeout=120, interval=1, what="outbox settled")
        found = counts(world, fake_twilio)
        report_counts(
            "fault 5: a websocket client stops reading",
            feeder,
            clients,
            found,
            **{
                "fast clients had everything after": f"{fast_done:.1f}s",
                "slow client while stalled": f"{slow_while_stalled} events",
                "slow client disconnected by the server": f"{slow.connects - 1} time(s), close codes {slow.closes}",
            },
        )
        for client in clients:
            assert set(found.events_stored) <= set(client.seqs)
            assert client.duplicates == 0 and client.out_of_order == 0
    finally:
        for client in clients:
            client.stop()
