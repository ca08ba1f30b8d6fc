#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Stage 60: the Debian package, end to end, on this machine (needs root).
#   1. scripts/package builds the .deb (Release, build-release/; or VIGIL_DEB
#      names a .deb built before); lintian must report no errors
#   2. dpkg -i: files, conffile, stripped binary, man page, user, data dir,
#      `systemd-analyze verify` of the installed unit (when the tool exists)
#   3. the INSTALLED binary runs as user vigil with a copy of the INSTALLED
#      configuration (plain HTTP on a free port instead of HTTPS on 8443, same
#      /var/lib/vigil/vigil.db): /api/v1/health says ok, `vigil token create`
#      as vigil refuses (exit 3, naming the service) while it runs, SIGHUP
#      reloads, SIGTERM stops it with exit status 0, then token create works
#   4. reinstall keeps a locally edited conffile
#   5. an upgrade (this package repacked as a newer version): every row,
#      key, setting, the user and the unit survive; the postinst took a
#      backup first and /api/v1/system reports it
#   6. dpkg -r keeps data, configuration and user; dpkg -P removes them all
# systemd does not run here, so the unit itself is only verified, not started.
# Whatever happens, the trap leaves the machine without vigil installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

say() { printf '60-deb: %s\n' "$*"; }
fail() { printf '60-deb: FAIL: %s\n' "$*" >&2; exit 1; }

if [[ $(id -u) -ne 0 ]]; then
  say "skipped: installs a package, needs root"
  exit 0
fi
for tool in dpkg-deb dpkg lintian curl setpriv python3; do
  command -v "$tool" >/dev/null || fail "$tool is missing (packaging/install-deps.sh --test)"
done

# Never touch a real installation: its data would go with the purge below.
# In CI (or when forced) a leftover of an interrupted earlier run is purged.
if dpkg-query -W -f='${db:Status-Status}' vigil 2>/dev/null | grep -qv '^not-installed$'; then
  if [[ "${CI:-}" == "true" || -n "${VIGIL_DEB_TEST_FORCE:-}" ]]; then
    say "purging a vigil package left on this machine"
    dpkg -P vigil >/dev/null
  else
    fail "vigil is installed here; this test would purge it (and /var/lib/vigil). Set VIGIL_DEB_TEST_FORCE=1 to allow."
  fi
fi
if [[ -z "${VIGIL_DEB_TEST_FORCE:-}" && "${CI:-}" != "true" ]]; then
  if getent passwd vigil >/dev/null || [[ -e /var/lib/vigil || -e /etc/vigil ]]; then
    fail "a user 'vigil', /var/lib/vigil or /etc/vigil exists without the package; this test would delete it. Set VIGIL_DEB_TEST_FORCE=1 to allow."
  fi
fi

tmp=$(mktemp -d /tmp/vigil-deb-test.XXXXXX)
chmod 0755 "$tmp"
pid=""
cleanup() {
  local rc=$?
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if dpkg-query -W -f='${db:Status-Status}' vigil 2>/dev/null | grep -qv '^not-installed$'; then
    say "cleanup: dpkg -P vigil"
    dpkg -P vigil >/dev/null 2>&1 || true
  fi
  # If the purge could not remove them, do it here: leave nothing behind.
  if getent passwd vigil >/dev/null; then userdel vigil 2>/dev/null || true; fi
  if getent group vigil >/dev/null; then groupdel vigil 2>/dev/null || true; fi
  if [[ $rc -ne 0 && -s "$tmp/serve.log" ]]; then
    echo "--- vigil serve log ---" >&2
    cat "$tmp/serve.log" >&2 || true
  fi
  rm -rf /var/lib/vigil /etc/vigil "$tmp"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. build and lint ----
if [[ -n "${VIGIL_DEB:-}" ]]; then
  deb=$VIGIL_DEB   # a package built before (scripts/package), e.g. by an earlier CI step
  say "using the prebuilt $deb"
else
  say "building the package (scripts/package)"
  deb=$(VIGIL_SKIP_LINTIAN=1 scripts/package | tail -n1)
fi
[[ -f "$deb" ]] || fail "scripts/package printed no .deb path"
say "package: $deb"
[[ $(basename "$deb") =~ ^vigil_[0-9][^_]*_[a-z0-9]+\.deb$ ]] || fail "unexpected file name $(basename "$deb")"
version=$(dpkg-deb -f "$deb" Version)
arch=$(dpkg-deb -f "$deb" Architecture)
[[ $(basename "$deb") == "vigil_${version}_${arch}.deb" ]] || fail "file name does not match $version/$arch"
for field in Depends Section Priority Maintainer Homepage Description; do
  [[ -n $(dpkg-deb -f "$deb" "$field") ]] || fail "control field $field is empty"
done
dpkg-deb -f "$deb" Depends | grep -q 'libc6' || fail "Depends lacks the shared library dependencies (shlibdeps)"
dpkg-deb -f "$deb" Depends | grep -q 'adduser' || fail "Depends lacks adduser"

say "lintian"
lintian_out=$(lintian --fail-on none --display-info "$deb" 2>&1 || true)
[[ -n "$lintian_out" ]] && printf '%s\n' "$lintian_out"
if grep -q '^E: ' <<<"$lintian_out"; then fail "lintian reports errors"; fi
say "lintian: $(grep -c '^E: ' <<<"$lintian_out" || true) errors, $(grep -c '^W: ' <<<"$lintian_out" || true) warnings"

# ---- 2. install ----
say "dpkg -i"
dpkg -i "$deb" >"$tmp/dpkg-i.log" 2>&1 || { cat "$tmp/dpkg-i.log" >&2; fail "dpkg -i failed"; }
[[ $(dpkg-query -W -f='${db:Status-Status}' vigil) == installed ]] || fail "vigil is not 'installed' after dpkg -i"

for f in /usr/bin/vigil /etc/vigil/vigil.json /usr/share/man/man1/vigil.1.gz \
         /lib/systemd/system/vigil.service /usr/share/doc/vigil/copyright \
         /usr/share/doc/vigil/changelog.Debian.gz; do
  [[ -f "$f" ]] || fail "$f is not installed"
done
[[ -x /usr/bin/vigil ]] || fail "/usr/bin/vigil is not executable"
if command -v readelf >/dev/null; then
  readelf -S /usr/bin/vigil | grep -q '\.symtab' && fail "/usr/bin/vigil is not stripped"
fi
/usr/bin/vigil version | grep -qx "vigil ${version%-*}" || fail "vigil version does not print ${version%-*}"
zcat /usr/share/man/man1/vigil.1.gz | grep -q '^\.SH EXIT STATUS' || fail "man page lacks EXIT STATUS"
dpkg-query -W -f='${Conffiles}\n' vigil | grep -q '^ /etc/vigil/vigil.json ' || fail "/etc/vigil/vigil.json is not a conffile"
cmp -s /etc/vigil/vigil.json "$root/config/vigil.json" || fail "/etc/vigil/vigil.json differs from config/vigil.json"
grep -q '"tls": true' /etc/vigil/vigil.json || fail "the installed configuration does not enable TLS"

getent group vigil >/dev/null || fail "group vigil was not created"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd vigil) || fail "user vigil was not created"
[[ $uid -lt 1000 ]] || fail "user vigil is not a system user (uid $uid)"
[[ $home == /var/lib/vigil ]] || fail "user vigil has home $home"
[[ $shell == */nologin || $shell == /bin/false ]] || fail "user vigil has a login shell ($shell)"
[[ $(id -gn vigil) == vigil ]] || fail "user vigil's primary group is not vigil"
[[ $(stat -c '%U:%G %a' /var/lib/vigil) == "vigil:vigil 750" ]] ||
  fail "/var/lib/vigil is $(stat -c '%U:%G %a' /var/lib/vigil), want vigil:vigil 750"

if command -v systemd-analyze >/dev/null; then
  say "systemd-analyze verify"
  # Offline check of the installed unit; messages about other units (a
  # container has no dbus.socket or bluetooth.service) do not fail the stage.
  # Documentation=man:vigil(1) is checked with man(1) when it is installed.
  man_opt=(); command -v man >/dev/null || man_opt=(--man=no)
  if ! systemd-analyze verify "${man_opt[@]}" /lib/systemd/system/vigil.service >"$tmp/verify.log" 2>&1; then
    cat "$tmp/verify.log" >&2
    fail "systemd-analyze verify failed"
  fi
  if grep -i 'vigil.service' "$tmp/verify.log"; then fail "systemd-analyze verify complains about vigil.service"; fi
else
  say "systemd-analyze not available: unit not verified"
fi

# ---- 3. run the installed binary as vigil ----
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
conf="$tmp/vigil.json"
sed -e 's/"tls": true,/"tls": false,/' -e "s/\"port\": 8443,/\"port\": $port,/" \
    -e 's/"address": "0.0.0.0",/"address": "127.0.0.1",/' /etc/vigil/vigil.json >"$conf"
if ! grep -q '"tls": false,' "$conf" || ! grep -q "\"port\": $port," "$conf"; then
  fail "could not rewrite the test configuration"
fi
grep -q '"path": "/var/lib/vigil/vigil.db"' "$conf" || fail "the configuration does not use /var/lib/vigil/vigil.db"
chmod 0644 "$conf"

# Starts /usr/bin/vigil serve as user vigil (pid in $pid) and prints the
# first answer of GET $1 (extra curl arguments after it), within 30 s.
serve_and_get() {
  local path=$1 answer=""
  shift
  setpriv --reuid vigil --regid vigil --init-groups --inh-caps=-all \
    /usr/bin/vigil serve --config "$conf" >"$tmp/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || fail "vigil serve exited early"
    answer=$(curl -fsS --max-time 2 "$@" "http://127.0.0.1:$port$path" 2>/dev/null) && break
    sleep 0.2
  done
  [[ -n "$answer" ]] || fail "no answer from $path within 30 s"
  printf '%s' "$answer"
}
# Stops it with SIGTERM; its exit status in $rc.
stop_serve() {
  kill -TERM "$pid"
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && fail "vigil serve did not stop within 30 s of SIGTERM"
  rc=0
  wait "$pid" || rc=$?
  pid=""
}

say "starting /usr/bin/vigil serve as user vigil on 127.0.0.1:$port"
serve_and_get /api/v1/health >"$tmp/health.json"
health=$(cat "$tmp/health.json")
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d.get("status")=="ok" else 1)' "$health" ||
  fail "health is not ok: $health"
say "health: $health"
[[ $(ps -o user= -p "$pid" | tr -d ' ') == vigil ]] || fail "vigil serve does not run as user vigil"
[[ -f /var/lib/vigil/vigil.db ]] || fail "/var/lib/vigil/vigil.db was not created"
[[ $(stat -c '%U' /var/lib/vigil/vigil.db) == vigil ]] || fail "vigil.db is not owned by vigil"

# The running service owns its database: an admin command refuses, names it
# and writes nothing (docs/packaging.md, docs/security.md).
as_vigil() { setpriv --reuid vigil --regid vigil --init-groups --inh-caps=-all "$@"; }
cli_rc=0
cli_out=$(as_vigil /usr/bin/vigil token create --role viewer --config "$conf" 2>&1) || cli_rc=$?
[[ $cli_rc -eq 3 ]] || fail "token create while serve runs: exit status $cli_rc, want 3: $cli_out"
grep -q "vigil serve (pid $pid) is running on /var/lib/vigil/vigil.db" <<<"$cli_out" ||
  fail "token create while serve runs does not name the service: $cli_out"
say "token create while serve runs: refused (exit 3)"

kill -HUP "$pid"
sleep 0.5
kill -0 "$pid" 2>/dev/null || fail "vigil serve died on SIGHUP"
curl -fsS --max-time 2 "http://127.0.0.1:$port/api/v1/health" >/dev/null || fail "no health after SIGHUP"

stop_serve
[[ $rc -eq 0 ]] || fail "vigil serve exited with status $rc after SIGTERM"
say "SIGTERM: exit status 0"
token=$(as_vigil /usr/bin/vigil token create --role viewer --config "$conf") ||
  fail "token create after the service stopped failed"
[[ $token =~ ^vgl_[0-9a-f]{64}$ ]] || fail "token create printed '$token', not a token alone"
say "token create after stop: ok"

# ---- 4. reinstall keeps the administrator's edits ----
printf '// local edit by 60-deb.sh\n' >>/etc/vigil/vigil.json
dpkg -i "$deb" >"$tmp/dpkg-i2.log" 2>&1 || { cat "$tmp/dpkg-i2.log" >&2; fail "reinstalling failed"; }
grep -q '^// local edit by 60-deb.sh$' /etc/vigil/vigil.json || fail "reinstall overwrote the edited conffile"
[[ -f /var/lib/vigil/vigil.db ]] || fail "reinstall lost the database"

# ---- 5. upgrade: every row, setting and key survives, a backup is taken first ----
# The package of this build repacked as a newer version stands in for the
# next release: dpkg runs the same maintainer scripts as for a real upgrade
# (postinst configure <old-version>), which take the backup before the new
# binary migrates anything and record it for the dashboard.
as_vigil /usr/bin/vigil sensor add --address C0:FF:EE:00:00:99 --key 00112233445566778899aabbccddeeff \
  --config "$conf" >/dev/null || fail "vigil sensor add before the upgrade failed"
db_digest() {  # every row of the tables a user cares about, keys included
  python3 - <<'PY'
import hashlib, sqlite3
con = sqlite3.connect("file:/var/lib/vigil/vigil.db?mode=ro", uri=True)
h = hashlib.sha256()
for t in ("sites", "assets", "positions", "sensors", "users", "api_tokens", "schema_migrations"):
    try:
        rows = con.execute("SELECT * FROM %s ORDER BY 1" % t).fetchall()
    except sqlite3.OperationalError:
        continue
    h.update(repr((t, rows)).encode())
print(h.hexdigest())
PY
}
digest_before=$(db_digest)
conf_before=$(sha256sum /etc/vigil/vigil.json | cut -d' ' -f1)
up="$tmp/up"
dpkg-deb -R "$deb" "$up"
sed -i "s/^Version: .*/Version: ${version}+upgradetest1/" "$up/DEBIAN/control"
dpkg-deb -b --root-owner-group "$up" "$tmp/vigil_upgrade.deb" >/dev/null || fail "could not repack the upgrade package"
say "dpkg -i the same package as version ${version}+upgradetest1 (an upgrade)"
dpkg -i "$tmp/vigil_upgrade.deb" >"$tmp/dpkg-up.log" 2>&1 || { cat "$tmp/dpkg-up.log" >&2; fail "the upgrade failed"; }
[[ $(dpkg-query -W -f='${Version}' vigil) == "${version}+upgradetest1" ]] || fail "the upgrade did not install the new version"
[[ $(db_digest) == "$digest_before" ]] || fail "the upgrade changed the stored sites, sensors, keys, users or tokens"
[[ $(sha256sum /etc/vigil/vigil.json | cut -d' ' -f1) == "$conf_before" ]] || fail "the upgrade changed the configuration"
getent passwd vigil >/dev/null || fail "the upgrade lost the user vigil"
[[ -f /lib/systemd/system/vigil.service ]] || fail "the upgrade lost the unit"
[[ $(stat -c '%U:%G %a' /var/lib/vigil) == "vigil:vigil 750" ]] || fail "the upgrade changed /var/lib/vigil's owner or mode"
[[ -f /var/lib/vigil/last-upgrade.json ]] || fail "the upgrade left no /var/lib/vigil/last-upgrade.json"
backup=$(python3 -c 'import json; d=json.load(open("/var/lib/vigil/last-upgrade.json")); assert d["from"] == "'"$version"'" and d["backup_ok"] is True, d; print(d["backup"])') ||
  fail "last-upgrade.json: $(cat /var/lib/vigil/last-upgrade.json)"
[[ -f "$backup" && $(stat -c '%U' "$backup") == vigil ]] || fail "the backup before the upgrade ($backup) is missing or not the service's"
[[ $(head -c 7 "$backup") == VIGILBK ]] || fail "$backup is not a vigil backup"
[[ $(stat -c '%U' /var/lib/vigil/vigil.db) == vigil ]] || fail "the backup changed the database's owner"
say "upgrade: rows, keys, configuration, user and unit kept; backup $backup"

# The dashboard shows the upgrade (GET /api/v1/system, Settings).
serve_and_get /api/v1/system -H "Authorization: Bearer $token" >"$tmp/system.json"
sys=$(cat "$tmp/system.json")
python3 -c 'import json,sys; u=json.loads(sys.argv[1])["last_upgrade"]; sys.exit(0 if u["from"] == sys.argv[2] and u["backup_ok"] else 1)' \
  "$sys" "$version" || fail "/api/v1/system does not report the upgrade: $sys"
stop_serve
say "upgrade shown in /api/v1/system"

# ---- 6. remove, then purge ----
say "dpkg -r vigil"
dpkg -r vigil >"$tmp/dpkg-r.log" 2>&1 || { cat "$tmp/dpkg-r.log" >&2; fail "dpkg -r failed"; }
[[ ! -e /usr/bin/vigil ]] || fail "/usr/bin/vigil is still there after remove"
[[ ! -e /lib/systemd/system/vigil.service ]] || fail "the unit is still there after remove"
[[ -f /var/lib/vigil/vigil.db ]] || fail "remove deleted /var/lib/vigil/vigil.db (data must be kept)"
[[ -f /etc/vigil/vigil.json ]] || fail "remove deleted the conffile"
getent passwd vigil >/dev/null || fail "remove deleted the user (kept until purge)"
[[ $(dpkg-query -W -f='${db:Status-Status}' vigil) == config-files ]] || fail "vigil is not in state config-files after remove"

say "dpkg -P vigil"
dpkg -P vigil >"$tmp/dpkg-p.log" 2>&1 || { cat "$tmp/dpkg-p.log" >&2; fail "dpkg -P failed"; }
[[ ! -e /var/lib/vigil ]] || fail "/var/lib/vigil is still there after purge"
[[ ! -e /etc/vigil ]] || fail "/etc/vigil is still there after purge"
getent passwd vigil >/dev/null && fail "user vigil is still there after purge"
getent group vigil >/dev/null && fail "group vigil is still there after purge"
[[ ! -e /etc/systemd/system/multi-user.target.wants/vigil.service ]] || fail "the unit's enable symlink survived the purge"
if dpkg-query -W -f='${db:Status-Status}' vigil 2>/dev/null | grep -qv '^not-installed$'; then
  fail "dpkg still knows vigil after purge"
fi

say "ok: built, linted, installed, ran as vigil, removed (data kept), purged (all gone)"
