# SPDX-License-Identifier: Apache-2.0
#
# Sourced by scripts/package and scripts/test: compiler flags as Debian
# packages get them (dpkg-buildflags with hardening=+all: -O2, fortify, stack
# protector, full RELRO, bind-now), without -g (the packaged binary is
# stripped). Sets cflags, cxxflags, ldflags.
export DEB_BUILD_MAINT_OPTIONS="hardening=+all"
_vigil_flag() { dpkg-buildflags --get "$1" 2>/dev/null | sed -e 's/\(^\| \)-g\( \|$\)/ /g'; }
cppflags=$(_vigil_flag CPPFLAGS)
cflags="$cppflags $(_vigil_flag CFLAGS)"
cxxflags="$cppflags $(_vigil_flag CXXFLAGS)"
ldflags=$(_vigil_flag LDFLAGS)
