# Install layout (`cmake --install`, and the .deb of cmake/Packaging.cmake).
# Included at the end of the top-level CMakeLists.txt, after every target
# exists. With CMAKE_INSTALL_PREFIX=/usr (the package):
#   /usr/sbin/ringqd                          daemon/CMakeLists.txt
#   /usr/bin/ringqctl                         tools/ringqctl/CMakeLists.txt
#   /lib/systemd/system/ringqd.service        systemd's unit directory
#   /etc/ringq/ringqd.conf                    the sample, paths made absolute
#   /usr/<libdir>/ringq/plugins/*.so          plugins/CMakeLists.txt (libdir is
#                                             lib/<multiarch> when configured
#                                             with prefix /usr, else lib)
#   /usr/share/ringq/wallboard.html           ringqd's default http.wallboard
#   /usr/share/doc/ringq/                     README.md, docs/*.md
# The unit and the configuration are generated at install time by
# cmake/InstallGenerated.cmake, from the install prefix in effect then (cpack
# installs with its own prefix, /usr, whatever the build was configured with).

install(FILES ${PROJECT_SOURCE_DIR}/web/wallboard.html DESTINATION ${CMAKE_INSTALL_DATADIR}/ringq)

file(GLOB RINGQ_DOCS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${RINGQ_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Where systemd looks for system units: systemd.pc says (/lib/systemd/system
# on Debian 12); without it, <prefix>/lib/systemd/system.
set(RINGQ_SYSTEMD_UNIT_DIR "" CACHE STRING
    "Directory for ringqd.service (empty: from pkg-config systemd, else lib/systemd/system)")
set(RINGQ_UNIT_DIR "${RINGQ_SYSTEMD_UNIT_DIR}")
if(RINGQ_UNIT_DIR STREQUAL "")
    pkg_get_variable(RINGQ_UNIT_DIR systemd systemdsystemunitdir)
endif()
if(RINGQ_UNIT_DIR STREQUAL "")
    set(RINGQ_UNIT_DIR lib/systemd/system)
endif()

# Directories relative to the prefix are passed on as they are; the script
# resolves them against the prefix of the install that runs it.
install(CODE "
set(RINGQ_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
set(RINGQ_BINARY_DIR \"${PROJECT_BINARY_DIR}\")
set(RINGQ_UNIT_DIR \"${RINGQ_UNIT_DIR}\")
set(RINGQ_SBINDIR \"${CMAKE_INSTALL_SBINDIR}\")
set(RINGQ_SYSCONFDIR \"${CMAKE_INSTALL_SYSCONFDIR}\")
set(RINGQ_DATADIR \"${CMAKE_INSTALL_DATADIR}\")
set(RINGQ_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
set(RINGQ_DOCDIR \"${CMAKE_INSTALL_DOCDIR}\")
include(\"${PROJECT_SOURCE_DIR}/cmake/InstallGenerated.cmake\")
")
