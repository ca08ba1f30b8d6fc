#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""BLE load generator for the gateway benchmark (tests/bench/ble_bench.sh).

`ble_load.py bluez --sensors N --duration S --out FILE` claims org.bluez on
the bus in DBUS_SYSTEM_BUS_ADDRESS and behaves like a minimal bluetoothd:
ObjectManager.GetManagedObjects on / (one adapter hci0 + N devices),
Adapter1.SetDiscoveryFilter/StartDiscovery/StopDiscovery/RemoveDevice, and
once discovery is started, every device "advertises" once a second: a
PropertiesChanged(org.bluez.Device1, {ServiceData, RSSI}) signal carrying a
plain BTHome v2 frame (packet id, temperature, battery) that changes every
time, spread evenly over the second. Writes {"emitted": n, ...} to FILE at
the end. (python-dbusmock's Properties.Set is a method round trip per advert
and becomes the bottleneck at 1,000 adverts/s; signals are what bluetoothd
sends anyway.)
"""
import argparse
import json
import sys
import time

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

ADAPTER = "/org/bluez/hci0"
BTHOME = "0000fcd2-0000-1000-8000-00805f9b34fb"


def mac(i):
    return "B0:00:00:00:%02X:%02X" % (i >> 8 & 0xFF, i & 0xFF)


def path(i):
    return ADAPTER + "/dev_" + mac(i).replace(":", "_")


class Root(dbus.service.Object):
    def __init__(self, bus, n):
        super().__init__(bus, "/")
        self.n = n

    @dbus.service.method("org.freedesktop.DBus.ObjectManager", out_signature="a{oa{sa{sv}}}")
    def GetManagedObjects(self):
        objs = {dbus.ObjectPath(ADAPTER): {"org.bluez.Adapter1": {
            "Address": "00:01:02:03:04:05", "Powered": True, "Discovering": self.adapter.discovering}}}
        for i in range(self.n):
            objs[dbus.ObjectPath(path(i))] = {"org.bluez.Device1": {
                "Address": mac(i), "Alias": "bench-%d" % i, "Adapter": dbus.ObjectPath(ADAPTER),
                "RSSI": dbus.Int16(-60)}}
        return objs

    @dbus.service.signal("org.freedesktop.DBus.ObjectManager", signature="oa{sa{sv}}")
    def InterfacesAdded(self, p, ifaces):
        pass


class Adapter(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, ADAPTER)
        self.discovering = False
        self.filter = None

    @dbus.service.method("org.bluez.Adapter1", in_signature="a{sv}")
    def SetDiscoveryFilter(self, f):
        self.filter = dict(f)

    @dbus.service.method("org.bluez.Adapter1")
    def StartDiscovery(self):
        self.discovering = True

    @dbus.service.method("org.bluez.Adapter1")
    def StopDiscovery(self):
        self.discovering = False

    @dbus.service.method("org.bluez.Adapter1", in_signature="o")
    def RemoveDevice(self, p):
        pass


class Device(dbus.service.Object):
    def __init__(self, bus, i):
        super().__init__(bus, path(i))

    @dbus.service.signal("org.freedesktop.DBus.Properties", signature="sa{sv}as")
    def PropertiesChanged(self, iface, changed, invalidated):
        pass


def run_bluez(a):
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.SystemBus()
    name = dbus.service.BusName("org.bluez", bus)  # noqa: F841 - keeps the name
    root = Root(bus, a.sensors)
    root.adapter = Adapter(bus)
    devs = [Device(bus, i) for i in range(a.sensors)]
    loop = GLib.MainLoop()
    st = {"emitted": 0, "rounds": 0, "late_ms_max": 0, "started": None}
    slots = 20  # batches per second
    per_slot = (a.sensors + slots - 1) // slots

    def tick():
        if not root.adapter.discovering:
            return True
        now = time.monotonic()
        if st["started"] is None:
            st["started"] = now
            st["next"] = now
            st["slot"] = 0
        if now - st["started"] >= a.duration:
            with open(a.out, "w") as f:
                json.dump({"emitted": st["emitted"], "rounds": st["rounds"], "late_ms_max": st["late_ms_max"],
                           "sensors": a.sensors, "duration_s": a.duration}, f)
            loop.quit()
            return False
        while now >= st["next"]:
            st["late_ms_max"] = max(st["late_ms_max"], int((now - st["next"]) * 1000))
            s = st["slot"]
            r = st["rounds"]
            for i in range(s * per_slot, min(a.sensors, (s + 1) * per_slot)):
                temp = int(2000 + (i * 7 + r) % 500)
                frame = bytes([0x40, 0x00, r & 0xFF, 0x02, temp & 0xFF, temp >> 8, 0x01, 90])
                devs[i].PropertiesChanged("org.bluez.Device1", {
                    "ServiceData": dbus.Dictionary({BTHOME: dbus.Array(frame, signature="y")}, signature="sv"),
                    "RSSI": dbus.Int16(-50 - i % 40)}, dbus.Array([], signature="s"))
                st["emitted"] += 1
            st["slot"] += 1
            if st["slot"] == slots:
                st["slot"] = 0
                st["rounds"] += 1
            st["next"] += 1.0 / slots
        return True

    GLib.timeout_add(5, tick)
    print("ready", flush=True)
    loop.run()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bluez")
    b.add_argument("--sensors", type=int, default=1000)
    b.add_argument("--duration", type=float, default=60)
    b.add_argument("--out", required=True)
    a = p.parse_args()
    if a.cmd == "bluez":
        run_bluez(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
