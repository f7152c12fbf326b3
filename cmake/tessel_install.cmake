# Install rules and the CMake package: find_package(tessel CONFIG) then link tessel::tessel.
# Installed: the module libraries, include/tessel/, tesselTargets.cmake (namespace tessel::),
# tesselConfig.cmake and tesselConfigVersion.cmake. tests/install/ checks the result from a consumer project.
include_guard(GLOBAL)
include(CMakePackageConfigHelpers)

set(TESSEL_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/tessel)

get_property(_tessel_libs GLOBAL PROPERTY TESSEL_MODULE_LIBRARIES)
install(TARGETS ${_tessel_libs} tessel_lib
  EXPORT tesselTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Only the public headers; internal ones (common/, index/, store/) never leave the tree.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/tessel
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp")

install(EXPORT tesselTargets
  NAMESPACE tessel::
  DESTINATION ${TESSEL_INSTALL_CMAKEDIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/tesselConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tesselConfig.cmake
  INSTALL_DESTINATION ${TESSEL_INSTALL_CMAKEDIR})
# 0.x: a minor release may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tesselConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/tesselConfig.cmake
  ${PROJECT_BINARY_DIR}/tesselConfigVersion.cmake
  DESTINATION ${TESSEL_INSTALL_CMAKEDIR})
