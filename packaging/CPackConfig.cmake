# SPDX-License-Identifier: Apache-2.0
#
# The Debian package of vigil: install rules for everything but the binary
# (the top-level CMakeLists.txt installs /usr/bin/vigil) and the CPack DEB
# settings. Included by the top-level CMakeLists.txt; build the package with
# scripts/package (docs/packaging.md), which configures with
# CMAKE_INSTALL_PREFIX=/usr and runs `cpack -G DEB`.
#
# Layout of the package (the contract in DESIGN.md):
#   /usr/bin/vigil                          stripped (CPACK_STRIP_FILES)
#   /etc/vigil/vigil.json                   config/vigil.json, a conffile
#   /lib/systemd/system/vigil.service       packaging/vigil.service
#   /usr/share/man/man1/vigil.1.gz          packaging/vigil.1
#   /usr/share/doc/vigil/copyright          packaging/debian/copyright (DEP-5)
#   /usr/share/doc/vigil/changelog.Debian.gz packaging/debian/changelog
#   /usr/share/lintian/overrides/vigil      packaging/debian/lintian-overrides
#   maintainer scripts                      packaging/debian/{postinst,prerm,postrm}

set(VIGIL_PACKAGE_MAINTAINER "vigil maintainers <vigil@vigil-gateway.org>"
    CACHE STRING "Maintainer of the Debian package (Name <email>)")
set(VIGIL_PACKAGE_HOMEPAGE "https://github.com/vigil-gateway/vigil"
    CACHE STRING "Homepage of the Debian package")
set(VIGIL_DEB_RELEASE 1 CACHE STRING "Debian revision of the package (the -N in 0.1.0-N)")

set(_pkg_src ${CMAKE_CURRENT_LIST_DIR})
set(_pkg_out ${CMAKE_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${_pkg_out}/control)

# Copies SRC to DST without its leading '#' comment lines (SPDX header and
# notes for maintainers) and with @VARIABLES@ replaced. Re-runs on changes.
function(vigil_pkg_template src dst)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${src})
  file(READ ${src} text)
  string(REGEX REPLACE "^(#[^\n]*\n)+" "" text "${text}")
  string(CONFIGURE "${text}" text @ONLY)
  file(WRITE ${dst}.tmp "${text}")
  file(COPY_FILE ${dst}.tmp ${dst} ONLY_IF_DIFFERENT)
  file(REMOVE ${dst}.tmp)
endfunction()

# gzip -9n as Debian packages do it: no name or timestamp, so reproducible.
find_program(VIGIL_GZIP gzip REQUIRED)
function(vigil_pkg_gzip src dst)
  execute_process(COMMAND ${VIGIL_GZIP} -9nc ${src} OUTPUT_FILE ${dst} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gzip ${src} failed")
  endif()
endfunction()

# ---- documentation: copyright, changelog, man page ----
set(VIGIL_VERSION ${PROJECT_VERSION})
vigil_pkg_template(${_pkg_src}/debian/copyright ${_pkg_out}/copyright)
vigil_pkg_template(${_pkg_src}/debian/changelog ${_pkg_out}/changelog.Debian)
file(STRINGS ${_pkg_out}/changelog.Debian _top LIMIT_COUNT 1)
if(NOT _top MATCHES "^vigil \\(${PROJECT_VERSION}-${VIGIL_DEB_RELEASE}\\) ")
  message(WARNING "packaging/debian/changelog: the top entry is '${_top}', but the package is "
                  "${PROJECT_VERSION}-${VIGIL_DEB_RELEASE}: add a changelog entry")
endif()
vigil_pkg_gzip(${_pkg_out}/changelog.Debian ${_pkg_out}/changelog.Debian.gz)
# The man page keeps its SPDX comment (roff comments are fine in man pages).
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_pkg_src}/vigil.1)
configure_file(${_pkg_src}/vigil.1 ${_pkg_out}/vigil.1 @ONLY)
vigil_pkg_gzip(${_pkg_out}/vigil.1 ${_pkg_out}/vigil.1.gz)

# ---- install rules (absolute destinations are outside the /usr prefix) ----
install(FILES ${CMAKE_SOURCE_DIR}/config/vigil.json DESTINATION /etc/vigil
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${_pkg_src}/vigil.service DESTINATION /lib/systemd/system
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${_pkg_out}/vigil.1.gz DESTINATION share/man/man1)
install(FILES ${_pkg_out}/copyright ${_pkg_out}/changelog.Debian.gz DESTINATION share/doc/vigil)
install(FILES ${_pkg_src}/debian/lintian-overrides DESTINATION share/lintian/overrides RENAME vigil)

# CPACK_STRIP_FILES runs a plain `strip`; like dh_strip, also drop the
# .comment and .note sections (compiler idents) that stripping keeps.
if(TARGET vigil AND CMAKE_STRIP)
  install(CODE "
    if(CMAKE_INSTALL_DO_STRIP)
      execute_process(COMMAND \"${CMAKE_STRIP}\" --remove-section=.comment --remove-section=.note
                      \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/bin/vigil\")
    endif()")
endif()

# ---- control area: maintainer scripts, conffiles ----
file(WRITE ${_pkg_out}/control/conffiles "/etc/vigil/vigil.json\n")
foreach(s postinst prerm postrm)
  configure_file(${_pkg_src}/debian/${s} ${_pkg_out}/control/${s} COPYONLY)
endforeach()

# ---- CPack ----
set(CPACK_PACKAGE_NAME vigil)
set(CPACK_PACKAGE_VENDOR "The vigil authors")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${VIGIL_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
set(CPACK_SOURCE_GENERATOR "")

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # vigil_<version>-<release>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_NAME vigil)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${VIGIL_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${VIGIL_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${VIGIL_PACKAGE_HOMEPAGE}")
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Library dependencies come from dpkg-shlibdeps; these are appended to them.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bluez")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${_pkg_out}/control/conffiles ${_pkg_out}/control/postinst
    ${_pkg_out}/control/prerm ${_pkg_out}/control/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"edge gateway for machine condition monitoring
vigil is an on-premises gateway for vibration and temperature monitoring
of rotating machines (motors, pumps, fans, gearboxes). One daemon listens
to battery-powered Bluetooth Low Energy sensors through BlueZ (BTHome v2
and vigil frames), keeps every reading in a local SQLite database, learns
the normal behaviour of each machine position, scores every measurement
against that baseline and raises Warning and Alarm states.

It serves a local web dashboard, a REST API and Prometheus metrics over
HTTPS, and can forward alerts and summaries to an MQTT broker. It works
with no internet connection.

This package runs the gateway as the hardened systemd service vigil.service
under the system user vigil, with its configuration in /etc/vigil and its
data in /var/lib/vigil.")

include(CPack)
