# SPDX-License-Identifier: Apache-2.0
"""A live virtual sensor behind the BlueZ stand-in's GATT proxy
(BluezMock.add_gatt_proxy): the firmware's host port in --gatt-serve mode
(sensor-fw/README.md), with its flash and state in a directory, so it
reboots into a new image, confirms it or reverts it exactly as the firmware
core does. A unix socket server passes the stand-in's GATT calls to it one
line at a time.

A reset the firmware would take by itself is played here: after a
successful ACTIVATE the sensor reboots (the CLI does that); an image that
then stays in test_boot failed its self-test, so its watchdog resets it once
more and the bootloader reverts. A good image confirms itself; a sensor made
with self_confirm=False fails the self-test of any new image (it runs the
CLI with --no-self-confirm), so every update of it reverts.
"""
import os
import socket
import subprocess
import threading

from bluez_mock import virtual_sensor_bin


class GattSensor:
    def __init__(self, workdir, mac, key, version="1.0.0", drop_data_write_at=None, self_confirm=True):
        self.mac = mac
        self.dir = os.path.join(str(workdir), "sensor-" + mac.replace(":", ""))
        os.makedirs(self.dir, exist_ok=True)
        self.sock_path = os.path.join(self.dir, "gatt.sock")
        self.proc = subprocess.Popen(
            [virtual_sensor_bin(), "--gatt-serve", "--address", mac, "--key", key, "--state-dir", self.dir,
             "--version", version] + ([] if self_confirm else ["--no-self-confirm"]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.lock = threading.Lock()
        self.calls = []               # every forwarded command
        self.boots = []               # "booted …" lines after each reboot
        self.drop_data_write_at = drop_data_write_at  # the link drops on this Data write (once)
        self.data_writes = 0
        self.corrupt_data_write_at = None             # flip a byte of this Data write (once)
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(self.sock_path)
        self.server.listen(16)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def command(self, line):
        with self.lock:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            return self.proc.stdout.readline().strip()

    def adverts(self):
        """One measurement cycle's adverts (5, bytes)."""
        with self.lock:
            self.proc.stdin.write("adverts\n")
            self.proc.stdin.flush()
            return [bytes.fromhex(self.proc.stdout.readline().strip()) for _ in range(5)]

    def booted(self):
        return self.command("booted")

    def _handle(self, line):
        self.calls.append(line.split(" ")[0] + " " + (line.split(" ") + [""])[1])
        if line.startswith("write 0012 "):
            n = self.data_writes
            self.data_writes += 1
            if self.drop_data_write_at is not None and n == self.drop_data_write_at:
                self.drop_data_write_at = None
                return "err 0e"  # the link dropped: the write never arrived
            if self.corrupt_data_write_at is not None and n == self.corrupt_data_write_at:
                self.corrupt_data_write_at = None
                b = bytearray.fromhex(line[11:])
                b[-1] ^= 0x5A
                line = "write 0012 " + b.hex()
        answer = self.command(line)
        if line.startswith("write 0011 04") and answer == "ok":
            boot = self.booted()
            self.boots.append(boot)
            if boot.split(" ")[-1] == "test_boot":  # the self-test failed: the watchdog resets it
                self.boots.append(self.command("reboot"))
        return answer

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                f = conn.makefile("rw")
                line = f.readline().strip()
                if not line:
                    continue
                f.write(self._handle(line) + "\n")
                f.flush()

    def stop(self):
        try:
            self.server.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
