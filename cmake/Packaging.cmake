# The Debian package: `cpack -G DEB` in a build directory (after the build)
# writes ringq_<version>-1_<arch>.deb from the install rules of
# cmake/Install.cmake, installed under /usr (and /etc) whatever
# CMAKE_INSTALL_PREFIX the build was configured with. Depends comes from
# dpkg-shlibdeps (package dpkg-dev) over the installed binaries and plugins.
# tests/integration/test_package.py installs it into a fresh Debian 12 root.

set(CPACK_PACKAGE_NAME ringq)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "ringq developers")
set(CPACK_PACKAGE_CONTACT "ringq developers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "call-center queue daemon (ACD)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_PACKAGE_NAME ringq)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "ringq developers")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Shared-library dependencies, found by dpkg-shlibdeps; procps for /bin/kill,
# which the unit's ExecReload runs.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "procps")
# ringqd mirrors its live state to Redis (the sample config's redis section).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "redis-server")
# The synopsis line is CPACK_PACKAGE_DESCRIPTION_SUMMARY; this is the rest.
if(TARGET ringqctl)
    set(rq_cli " the admin CLI ringqctl,")
else()
    set(rq_cli "")
endif()
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "ringqd queues contacts (calls, callbacks, chats, emails) that PBX adapters
and chat gateways announce over NDJSON sockets, routes each to an agent by
skill and level, customer tier, language, persona, preferred agent and
deadline, offers it to the agent's softphone and follows it to the end.
Live state is mirrored to Redis; an HTTP API, Server-Sent Events,
Prometheus metrics and a wallboard page show queues and service levels.
.
This package holds ringqd with its systemd unit (hardened, Type=notify),${rq_cli}
strategy plugins, the wallboard page and an annotated sample
configuration in /etc/ringq/ringqd.conf. The service is not enabled:
replace the sample's demo tokens, then systemctl enable --now ringqd.")

# Maintainer scripts (cmake/deb) and the conffile list; the conffile is
# where cmake/InstallGenerated.cmake puts the configuration for prefix /usr.
file(WRITE ${PROJECT_BINARY_DIR}/deb/conffiles "/etc/ringq/ringqd.conf\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/cmake/deb/postinst
    ${PROJECT_SOURCE_DIR}/cmake/deb/prerm
    ${PROJECT_SOURCE_DIR}/cmake/deb/postrm
    ${PROJECT_BINARY_DIR}/deb/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_GENERATOR DEB)
include(CPack)
