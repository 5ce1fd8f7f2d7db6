# Install-time part of cmake/Install.cmake: writes the two installed files
# whose contents name other installed files.
#   <unit dir>/ringqd.service   systemd/ringqd.service with the daemon, its
#                               configuration and docs at the installed paths
#   <sysconfdir>/ringq/ringqd.conf
#                               conf/ringqd.conf with http.wallboard pointing at
#                               the installed page and plugin entries at the
#                               installed plugin directory (the sample's
#                               relative paths are relative to the repository)
# Runs inside cmake_install.cmake, so CMAKE_INSTALL_PREFIX is the prefix of
# this install (cpack's /usr, or `cmake --install --prefix`) and file(INSTALL)
# applies DESTDIR and records the files in install_manifest.txt.
# Input variables (set by cmake/Install.cmake): RINGQ_SOURCE_DIR,
# RINGQ_BINARY_DIR (scratch files),
# RINGQ_UNIT_DIR, RINGQ_SBINDIR, RINGQ_SYSCONFDIR, RINGQ_DATADIR,
# RINGQ_LIBDIR, RINGQ_DOCDIR (each absolute, or relative to the prefix).

string(REGEX REPLACE "/+$" "" rq_prefix "${CMAKE_INSTALL_PREFIX}")

# <prefix>/<dir>, or <dir> when it is absolute.
function(rq_full out dir)
    if(IS_ABSOLUTE "${dir}")
        set(${out} "${dir}" PARENT_SCOPE)
    else()
        set(${out} "${rq_prefix}/${dir}" PARENT_SCOPE)
    endif()
endfunction()

# The configuration directory as GNUInstallDirs resolves it: prefixes / and
# /usr keep it in /etc, /opt/<p> uses /etc/opt/<p>, others <prefix>/etc.
if(IS_ABSOLUTE "${RINGQ_SYSCONFDIR}")
    set(rq_etc "${RINGQ_SYSCONFDIR}")
elseif(rq_prefix STREQUAL "" OR rq_prefix STREQUAL "/usr")
    set(rq_etc "/${RINGQ_SYSCONFDIR}")
elseif(rq_prefix MATCHES "^/opt/")
    set(rq_etc "/${RINGQ_SYSCONFDIR}${rq_prefix}")
else()
    set(rq_etc "${rq_prefix}/${RINGQ_SYSCONFDIR}")
endif()
rq_full(rq_sbin "${RINGQ_SBINDIR}")
rq_full(rq_data "${RINGQ_DATADIR}")
rq_full(rq_lib "${RINGQ_LIBDIR}")
rq_full(rq_doc "${RINGQ_DOCDIR}")
rq_full(rq_unitdir "${RINGQ_UNIT_DIR}")

string(RANDOM LENGTH 12 rq_tag)
set(rq_tmp "${RINGQ_BINARY_DIR}/ringq-install-${rq_tag}")
file(MAKE_DIRECTORY "${rq_tmp}")

# --- the unit: the paths it names, where this install puts them ---
file(READ "${RINGQ_SOURCE_DIR}/systemd/ringqd.service" rq_unit)
foreach(must "/usr/sbin/ringqd" "/etc/ringq/ringqd.conf")
    string(FIND "${rq_unit}" "${must}" rq_at)
    if(rq_at LESS 0)
        message(FATAL_ERROR "systemd/ringqd.service does not name ${must}: "
                            "update cmake/InstallGenerated.cmake with the unit")
    endif()
endforeach()
string(REPLACE "/usr/sbin/ringqd" "${rq_sbin}/ringqd" rq_unit "${rq_unit}")
string(REPLACE "/etc/ringq/ringqd.conf" "${rq_etc}/ringq/ringqd.conf" rq_unit "${rq_unit}")
string(REPLACE "file:///usr/share/doc/ringq/" "file://${rq_doc}/" rq_unit "${rq_unit}")
file(WRITE "${rq_tmp}/ringqd.service" "${rq_unit}")
file(INSTALL DESTINATION "${rq_unitdir}" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${rq_tmp}/ringqd.service")

# --- the configuration ---
file(READ "${RINGQ_SOURCE_DIR}/conf/ringqd.conf" rq_conf)
# http.wallboard = "<relative path>": the installed page.
string(REGEX REPLACE "(\n[ \t]*wallboard[ \t]*=[ \t]*\")[^\"/][^\"]*\""
       "\\1${rq_data}/ringq/wallboard.html\"" rq_conf "${rq_conf}")
# (and the comment above it, which speaks of the repository's copy)
string(REPLACE "this is the repository's copy, for the demo." "here, the installed page."
       rq_conf "${rq_conf}")
# "x.so", "dir/x.so" (plugin entries, also in comments): the installed plugin.
string(REGEX REPLACE "\"([^\"/][^\"]*/)?([^\"/]+\\.so)\""
       "\"${rq_lib}/ringq/plugins/\\2\"" rq_conf "${rq_conf}")
# A note under the first line (the file's title).
string(FIND "${rq_conf}" "\n" rq_eol)
string(SUBSTRING "${rq_conf}" 0 ${rq_eol} rq_title)
math(EXPR rq_eol "${rq_eol} + 1")
string(SUBSTRING "${rq_conf}" ${rq_eol} -1 rq_rest)
string(CONCAT rq_conf "${rq_title}\n#\n"
       "# Installed copy: http.wallboard and plugin paths name the installed files\n"
       "# (${rq_data}/ringq/, ${rq_lib}/ringq/plugins/).\n" "${rq_rest}")
file(WRITE "${rq_tmp}/ringqd.conf" "${rq_conf}")
file(INSTALL DESTINATION "${rq_etc}/ringq" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${rq_tmp}/ringqd.conf")

file(REMOVE_RECURSE "${rq_tmp}")
