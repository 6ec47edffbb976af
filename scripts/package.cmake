# The Debian package (cpack -G DEB in a build directory): the binary in /usr/bin, the systemd
# unit, /etc/ringcast/ringcast.toml as a conffile, the docs, and maintainer scripts that create
# the ringcast system user. tests/package_test.sh builds, lints, installs and purges it.
include(GNUInstallDirs)

install(TARGETS ringcast RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/scripts/ringcast.toml DESTINATION /etc/ringcast)
# The unit in scripts/ is for a source install (/usr/local/bin); the package's runs /usr/bin.
file(READ ${PROJECT_SOURCE_DIR}/scripts/ringcast.service ringcast_unit)
string(REPLACE "/usr/local/bin/" "/usr/bin/" ringcast_unit "${ringcast_unit}")
file(WRITE ${CMAKE_BINARY_DIR}/package/ringcast.service "${ringcast_unit}")
install(FILES ${CMAKE_BINARY_DIR}/package/ringcast.service DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/operations.md
              ${PROJECT_SOURCE_DIR}/docs/protocol.md ${PROJECT_SOURCE_DIR}/scripts/debian/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
# Debian wants the changelog (a native package's: changelog.gz) and the manual page compressed,
# with the maximum compression and no timestamp.
set(ringcast_changelog ${CMAKE_BINARY_DIR}/package/changelog.gz)
set(ringcast_manual ${CMAKE_BINARY_DIR}/package/ringcast.1.gz)
add_custom_command(OUTPUT ${ringcast_changelog} ${ringcast_manual}
  COMMAND gzip -9n -c ${PROJECT_SOURCE_DIR}/scripts/debian/changelog > ${ringcast_changelog}
  COMMAND gzip -9n -c ${PROJECT_SOURCE_DIR}/scripts/debian/ringcast.1 > ${ringcast_manual}
  DEPENDS ${PROJECT_SOURCE_DIR}/scripts/debian/changelog ${PROJECT_SOURCE_DIR}/scripts/debian/ringcast.1)
add_custom_target(ringcast_package_files ALL DEPENDS ${ringcast_changelog} ${ringcast_manual})
install(FILES ${ringcast_changelog} DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${ringcast_manual} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/scripts/debian/lintian-overrides
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides RENAME ringcast)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ringcast)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "ringcast maintainers <ringcast@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "live broadcast relay, Icecast-compatible")
# The extended description (the summary above is its first line).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Relays live audio and video pushed over HTTP (Icecast's source protocol:\nliquidsoap, ezstream, butt, ffmpeg, OBS) to many listeners, from one ring\nbuffer per mount: ICY metadata, HLS and timeshift from the ring, Icecast's\nadmin API and config file, Prometheus metrics and a dashboard.")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/scripts/debian/conffiles ${PROJECT_SOURCE_DIR}/scripts/debian/postinst
    ${PROJECT_SOURCE_DIR}/scripts/debian/prerm ${PROJECT_SOURCE_DIR}/scripts/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
