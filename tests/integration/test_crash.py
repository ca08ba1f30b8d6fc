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


def test_kill_9_during_heavy_ingest_loses_nothing_committed(tmp_path):
    db = str(tmp_path / "crash.db")
    writer = tool("ingest_writer")
    rng = random.Random(1234)
    committed = 0
    for round_ in range(8):
        p = subprocess.Popen([writer, "write", db, str(round_)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3 + rng.random() * 1.5)
        os.kill(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        lines = [l for l in out.splitlines() if l.startswith("committed ")]
        assert lines, "writer made no progress in round %d: %s" % (round_, err)
        # Each round writes its own time range; all acknowledged rounds add up.
        committed += int(lines[-1].split()[1])
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
        v = subprocess.run([writer, "verify", db, str(committed)], capture_output=True, text=True, timeout=60)
        assert v.returncode == 0, "round %d: %s %s" % (round_, v.stdout, v.stderr)
