# SPDX-License-Identifier: Apache-2.0
"""kill -9 during heavy ingest: the database opens, passes integrity_check and
holds every transaction that had committed. Repeated, so kills land in batch
commits and in checkpoints alike."""
import os
import random
import signal
import sqlite3
import subprocess
import time

from conftest import tool


def kill_rounds(db, rounds, seed, write="write", verify="verify"):
    """Starts the writer `rounds` times, kills it with SIGKILL after a random
    0.3–1.8 s, and after each kill checks the file's integrity and that
    everything the writer had acknowledged ("committed N [W]") is there."""
    writer = tool("ingest_writer")
    rng = random.Random(seed)
    acknowledged = None
    for round_ in range(rounds):
        p = subprocess.Popen([writer, write, db, str(round_)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        time.sleep(0.3 + rng.random() * 1.5)
        os.kill(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        lines = [l for l in out.splitlines() if l.startswith("committed ")]
        assert lines, "writer made no progress in round %d: %s" % (round_, err)
        # Each round writes its own time range; all acknowledged rounds add up.
        counts = [int(x) for x in lines[-1].split()[1:]]
        acknowledged = counts if acknowledged is None else [a + c for a, c in zip(acknowledged, counts)]
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
        wanted = acknowledged[:1] if verify == "verify" else acknowledged
        v = subprocess.run([writer, verify, db] + [str(n) for n in wanted], capture_output=True, text=True,
                           timeout=60)
        assert v.returncode == 0, "round %d: %s %s" % (round_, v.stdout, v.stderr)


def test_kill_9_during_heavy_ingest_loses_nothing_committed(tmp_path):
    kill_rounds(str(tmp_path / "crash.db"), rounds=8, seed=1234)


def test_kill_9_with_group_commit_loses_nothing_flush_acknowledged(tmp_path):
    """Group commit (readings, waveforms and measurements in one transaction
    per interval): after kill -9 everything flush() had acknowledged is there,
    each waveform whole, and the file passes integrity_check."""
    kill_rounds(str(tmp_path / "grouped.db"), rounds=6, seed=99, write="write-grouped", verify="verify-grouped")
