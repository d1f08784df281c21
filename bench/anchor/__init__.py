"""The bench anchor: the bare framework doing the minimum a check-in needs.

A minimal DRF endpoint that authenticates a token, validates the same 25 answers with a
plain serializer, inserts one row and sends one channel-layer event on commit, plus a
minimal websocket consumer that forwards those events. ``bench/run.py`` serves it the
same way as Vigil (same settings, same servers, same processes) and prints every Vigil
throughput as a ratio to it, measured in the same run, so that a noisy shared machine
does not hide a regression. Mounted only with ``VIGIL_BENCH_ANCHOR=1``.
"""
