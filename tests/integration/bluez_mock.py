# SPDX-License-Identifier: Apache-2.0
"""A BlueZ stand-in for integration tests and the BLE benchmark: a private
dbus-daemon plus python-dbusmock's bluez5 template, and helpers that put real
advertisement bytes (from the firmware's host virtual sensor) into mock
devices the way bluetoothd would: Device1.ServiceData / ManufacturerData
changes via org.freedesktop.DBus.Properties.Set (which emits
PropertiesChanged; Mock.UpdateProperties crashes on dict values).

Needs /usr/bin/python3 with the dbus module (python3-dbus, python3-dbusmock).
"""
import os
import signal
import subprocess
import time

import dbus

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BTHOME_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"
WAVEFORM_SERVICE = "9e7a0001-5c2b-4d0e-9b5f-766967696c00"
WAVEFORM_INFO = "9e7a0002-5c2b-4d0e-9b5f-766967696c00"
CHUNK_REQUEST = "9e7a0003-5c2b-4d0e-9b5f-766967696c00"
CHUNK_DATA = "9e7a0004-5c2b-4d0e-9b5f-766967696c00"
DFU_SERVICE = "9e7a0010-5c2b-4d0e-9b5f-766967696c00"
CONFIG_SERVICE = "9e7a0020-5c2b-4d0e-9b5f-766967696c00"


def _uuid(short):
    return "9e7a%s-5c2b-4d0e-9b5f-766967696c00" % short


def virtual_sensor_bin():
    """The firmware's host CLI (sensor-fw/ports/host), or None if not built."""
    for p in (os.environ.get("VIGIL_VIRTUAL_SENSOR"),
              os.path.join(ROOT, "sensor-fw", "build", "host", "ports", "host", "vigil-virtual-sensor")):
        if p and os.access(p, os.X_OK):
            return p
    return None


def virtual_sensor(mac, key=None, count=1, waveform=False, state=None, battery_mv=None):
    """Runs the virtual sensor: returns (adverts as bytes list, info bytes, chunk bytes list)."""
    exe = virtual_sensor_bin()
    args = [exe, "--address", mac, "--count", str(count)]
    args += ["--key", key] if key else ["--plain"]
    if waveform:
        args.append("--waveform")
    if state:
        args += ["--state", state]
    if battery_mv is not None:
        args += ["--battery-mv", str(battery_mv)]
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout.split("\n")
    ads, info, chunks = [], None, []
    for line in out:
        line = line.strip()
        if not line:
            continue
        if line.startswith("info "):
            info = bytes.fromhex(line[5:])
        elif line.startswith("chunk "):
            chunks.append(bytes.fromhex(line[6:]))
        else:
            ads.append(bytes.fromhex(line))
    return ads, info, chunks


def ad_to_props(ad):
    """Splits AD structures into BlueZ's ServiceData / ManufacturerData."""
    service, manufacturer = {}, {}
    i = 0
    while i < len(ad):
        n = ad[i]
        if n == 0 or i + 1 + n > len(ad):
            break
        t, data = ad[i + 1], ad[i + 2:i + 1 + n]
        if t == 0x16 and len(data) >= 2:
            uuid16 = data[0] | data[1] << 8
            service["0000%04x-0000-1000-8000-00805f9b34fb" % uuid16] = bytes(data[2:])
        elif t == 0xFF and len(data) >= 2:
            manufacturer[data[0] | data[1] << 8] = bytes(data[2:])
        i += 1 + n
    return service, manufacturer


def dev_path(mac, adapter="hci0"):
    return "/org/bluez/%s/dev_%s" % (adapter, mac.upper().replace(":", "_"))


class BluezMock:
    def __init__(self, tmpdir):
        self.dir = str(tmpdir)
        self.sock = os.path.join(self.dir, "system_bus.sock")
        self.address = None
        self.daemon_pid = None
        self.mock = None
        self.bus = None

    # ---- processes ----
    def start_bus(self):
        out = subprocess.run(["dbus-daemon", "--session", "--address=unix:path=" + self.sock, "--fork",
                              "--print-address=1", "--print-pid=1"], check=True, capture_output=True, text=True,
                             timeout=20).stdout.split()
        self.address, self.daemon_pid = out[0], int(out[1])
        self.bus = dbus.bus.BusConnection(self.address)
        return self.address

    def start_bluez(self):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        self.mock = subprocess.Popen(["/usr/bin/python3", "-m", "dbusmock", "--template", "bluez5"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.bus.name_has_owner("org.bluez"):
                return
            if self.mock.poll() is not None:
                raise AssertionError("dbusmock exited: %s" % self.mock.stderr.read())
            time.sleep(0.05)
        raise AssertionError("org.bluez did not appear on the private bus")

    def kill_bluez(self):
        """bluetoothd crashing: SIGKILL, no InterfacesRemoved."""
        if self.mock and self.mock.poll() is None:
            self.mock.send_signal(signal.SIGKILL)
            self.mock.wait(timeout=10)
        deadline = time.time() + 10
        while self.bus.name_has_owner("org.bluez") and time.time() < deadline:
            time.sleep(0.05)

    def stop(self):
        self.kill_bluez()
        if self.daemon_pid:
            try:
                os.kill(self.daemon_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.daemon_pid = None

    # ---- bluez5 template ----
    def _mock_iface(self):
        return dbus.Interface(self.bus.get_object("org.bluez", "/"), "org.bluez.Mock")

    def _dbusmock(self, path):
        return dbus.Interface(self.bus.get_object("org.bluez", path), "org.freedesktop.DBus.Mock")

    def _props(self, path):
        return dbus.Interface(self.bus.get_object("org.bluez", path), "org.freedesktop.DBus.Properties")

    def add_adapter(self, name="hci0"):
        return self._mock_iface().AddAdapter(name, "vigil-test")

    def add_device(self, mac, name="sensor", adapter="hci0"):
        return self._mock_iface().AddDevice(adapter, mac, name)

    def set_service_data(self, mac, service):
        value = dbus.Dictionary({u: dbus.Array(list(b), signature="y") for u, b in service.items()}, signature="sv")
        self._props(dev_path(mac)).Set("org.bluez.Device1", "ServiceData", value)

    def set_manufacturer_data(self, mac, manufacturer):
        value = dbus.Dictionary({dbus.UInt16(c): dbus.Array(list(b), signature="y") for c, b in manufacturer.items()},
                                signature="qv")
        self._props(dev_path(mac)).Set("org.bluez.Device1", "ManufacturerData", value)

    def set_rssi(self, mac, rssi):
        self._props(dev_path(mac)).Set("org.bluez.Device1", "RSSI", dbus.Int16(rssi))

    def advertise(self, mac, ad):
        """One advertisement (AD structures) as bluetoothd reports it."""
        service, manufacturer = ad_to_props(ad)
        if service:
            self.set_service_data(mac, service)
        if manufacturer:
            self.set_manufacturer_data(mac, manufacturer)

    def add_waveform_service(self, mac, info, chunks):
        """The vigil Waveform GATT service (docs/protocol.md §4) on a mock
        device, serving the given Info value and chunks: a Chunk Request
        write rewinds, each Chunk Data read returns the next chunk."""
        dev = dev_path(mac)
        svc = dev + "/service0010"
        info_c, req_c, data_c = svc + "/char0011", svc + "/char0013", svc + "/char0015"
        root = self._dbusmock("/")
        root.AddObject(svc, "org.bluez.GattService1",
                       {"UUID": WAVEFORM_SERVICE, "Device": dbus.ObjectPath(dev), "Primary": True}, [])
        info_hex = info.hex()
        root.AddObject(info_c, "org.bluez.GattCharacteristic1",
                       {"UUID": WAVEFORM_INFO, "Service": dbus.ObjectPath(svc),
                        "Flags": dbus.Array(["read"], signature="s")},
                       [("ReadValue", "a{sv}", "ay",
                         "ret = dbus.Array(list(bytes.fromhex('%s')), signature='y')" % info_hex)])
        root.AddObject(req_c, "org.bluez.GattCharacteristic1",
                       {"UUID": CHUNK_REQUEST, "Service": dbus.ObjectPath(svc),
                        "Flags": dbus.Array(["write"], signature="s")},
                       [("WriteValue", "aya{sv}", "", "objects['%s'].chunk_index = 0" % data_c)])
        chunk_list = repr([c.hex() for c in chunks])
        code = ("CH = %s\n"
                "i = getattr(self, 'chunk_index', 0)\n"
                "self.chunk_index = i + 1\n"
                "self.reads = getattr(self, 'reads', 0) + 1\n"
                "ret = dbus.Array(list(bytes.fromhex(CH[i])) if i < len(CH) else [], signature='y')" % chunk_list)
        root.AddObject(data_c, "org.bluez.GattCharacteristic1",
                       {"UUID": CHUNK_DATA, "Service": dbus.ObjectPath(svc),
                        "Flags": dbus.Array(["read"], signature="s")},
                       [("ReadValue", "a{sv}", "ay", code)])
        return data_c

    def add_gatt_proxy(self, mac, socket_path, waveform=False):
        """The DFU and configuration GATT services (docs/protocol.md §8) on a
        mock device, each ReadValue/WriteValue forwarded as one line
        ("read 0013", "write 0011 <hex>") over the unix socket `socket_path`
        to a live virtual sensor (gatt_sensor.GattSensor), whose answer
        becomes the value or, for "err <att>", a org.bluez.Error.Failed.
        waveform: the sensor's waveform service (§4) too, served live."""
        dev = dev_path(mac)
        root = self._dbusmock("/")
        forward = ("import socket\n"
                   "s = socket.socket(socket.AF_UNIX)\n"
                   "s.settimeout(30)\n"
                   "s.connect(%r)\n"
                   "s.sendall((CMD + '\\n').encode())\n"
                   "f = s.makefile()\n"
                   "line = f.readline().strip()\n"
                   "s.close()\n"
                   "if not line or line.startswith('err'):\n"
                   "    raise dbus.exceptions.DBusException('ATT error ' + (line[4:] or 'no answer'), "
                   "name='org.bluez.Error.Failed')\n") % socket_path
        for svc_short, svc_uuid, chars in (("0030", DFU_SERVICE, (("0011", "write"), ("0012", "write-without-response"),
                                                                  ("0013", "read"))),
                                           ("0040", CONFIG_SERVICE, (("0021", "write"), ("0022", "read")))) + \
                ((("0050", WAVEFORM_SERVICE, (("0002", "read"), ("0003", "write"), ("0004", "read"))),)
                 if waveform else ()):
            svc = dev + "/service" + svc_short
            root.AddObject(svc, "org.bluez.GattService1",
                           {"UUID": svc_uuid, "Device": dbus.ObjectPath(dev), "Primary": True}, [])
            for short, flag in chars:
                path = svc + "/char" + short
                if flag == "read":
                    method = ("ReadValue", "a{sv}", "ay",
                              "CMD = 'read %s'\n" % short + forward +
                              "ret = dbus.Array(list(bytes.fromhex(line)), signature='y')")
                else:
                    method = ("WriteValue", "aya{sv}", "",
                              "CMD = 'write %s ' + bytes(args[0]).hex()\n" % short + forward)
                root.AddObject(path, "org.bluez.GattCharacteristic1",
                               {"UUID": _uuid(short), "Service": dbus.ObjectPath(svc),
                                "Flags": dbus.Array([flag], signature="s")}, [method])

    def device_connected(self, mac):
        """The bluez5 template keeps the connection state outside the
        properties: probe it with Connect (AlreadyConnected) and undo."""
        dev = dbus.Interface(self.bus.get_object("org.bluez", dev_path(mac)), "org.bluez.Device1")
        try:
            dev.Connect()
        except dbus.exceptions.DBusException as e:
            if "AlreadyConnected" in e.get_dbus_name():
                return True
            raise
        dev.Disconnect()
        return False

    def device_exists(self, mac):
        objs = dbus.Interface(self.bus.get_object("org.bluez", "/"),
                              "org.freedesktop.DBus.ObjectManager").GetManagedObjects()
        return dbus.ObjectPath(dev_path(mac)) in objs
