# Install rules and packages for libsmoothquant (included from the top CMakeLists.txt).
#
#   cmake --install <build> [--prefix <dir>]   installs
#     <libdir>/libsmoothquant.so.<VERSION>     the library (SONAME libsmoothquant.so.<MAJOR>)
#     <libdir>/libsmoothquant.so.<MAJOR>       runtime symlink
#     <libdir>/libsmoothquant.so               development symlink (the link-time name)
#     <includedir>/smoothquant/smoothquant.h   the whole public C ABI
#     <libdir>/pkgconfig/smoothquant.pc        pkg-config (relocatable: paths from ${pcfiledir})
#     <libdir>/cmake/smoothquant/              find_package(smoothquant CONFIG) -> smoothquant::smoothquant
#   cpack -G DEB                               libsmoothquant<MAJOR> (runtime) + libsmoothquant-dev
#
# Components: "runtime" (the versioned library and its SONAME link) and "development"
# (headers, the unversioned link, .pc, CMake package). Only the library is installed:
# sq_demo, sq_bench and the tests are not.
include_guard(GLOBAL)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SQ_RUNTIME_COMPONENT runtime)
set(SQ_DEVELOPMENT_COMPONENT development)
set(SQ_CMAKE_PACKAGE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/smoothquant")
set(SQ_PKGCONFIG_DIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
set(SQ_INSTALL_TEMPLATES "${CMAKE_CURRENT_LIST_DIR}")
get_filename_component(SQ_INSTALL_SOURCE_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(SQ_INSTALL_GENERATED "${PROJECT_BINARY_DIR}/install-generated")

# ------------------------------------------------------------------ the library
install(TARGETS smoothquant
        EXPORT smoothquantTargets
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
                COMPONENT ${SQ_RUNTIME_COMPONENT}
                NAMELINK_COMPONENT ${SQ_DEVELOPMENT_COMPONENT}
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT ${SQ_RUNTIME_COMPONENT}
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT ${SQ_DEVELOPMENT_COMPONENT}
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

install(DIRECTORY "${SQ_INSTALL_SOURCE_ROOT}/include/smoothquant"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        COMPONENT ${SQ_DEVELOPMENT_COMPONENT}
        FILES_MATCHING PATTERN "*.h")

# ------------------------------------------------------------ CMake package
# The library links cudart and threads privately (static cudart inside the .so), so the
# exported target has no dependencies for find_package to resolve.
install(EXPORT smoothquantTargets
        NAMESPACE smoothquant::
        FILE smoothquantTargets.cmake
        DESTINATION "${SQ_CMAKE_PACKAGE_DIR}"
        COMPONENT ${SQ_DEVELOPMENT_COMPONENT})

configure_package_config_file(
    "${SQ_INSTALL_TEMPLATES}/smoothquantConfig.cmake.in"
    "${SQ_INSTALL_GENERATED}/smoothquantConfig.cmake"
    INSTALL_DESTINATION "${SQ_CMAKE_PACKAGE_DIR}"
    NO_SET_AND_CHECK_MACRO)
# The SONAME carries only the major version and abi/check-abi.sh guards that nothing is
# dropped or changed within it, so any release of the same major satisfies a request.
write_basic_package_version_file(
    "${SQ_INSTALL_GENERATED}/smoothquantConfigVersion.cmake"
    VERSION "${PROJECT_VERSION}"
    COMPATIBILITY SameMajorVersion)
install(FILES "${SQ_INSTALL_GENERATED}/smoothquantConfig.cmake"
              "${SQ_INSTALL_GENERATED}/smoothquantConfigVersion.cmake"
        DESTINATION "${SQ_CMAKE_PACKAGE_DIR}"
        COMPONENT ${SQ_DEVELOPMENT_COMPONENT})

# --------------------------------------------------------------- pkg-config
# Relocatable: the prefix is found from the .pc file's own directory, so the same file
# works after `cmake --install --prefix <anywhere>`, in the .deb, and in an extracted tree.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(SQ_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(SQ_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(SQ_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH _sq_pc_up "/sq-prefix/${SQ_PKGCONFIG_DIR}" "/sq-prefix")
  string(REGEX REPLACE "/$" "" _sq_pc_up "${_sq_pc_up}")
  set(SQ_PC_PREFIX "\${pcfiledir}/${_sq_pc_up}")
  set(SQ_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(SQ_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
  unset(_sq_pc_up)
endif()
configure_file("${SQ_INSTALL_TEMPLATES}/smoothquant.pc.in"
               "${SQ_INSTALL_GENERATED}/smoothquant.pc" @ONLY)
install(FILES "${SQ_INSTALL_GENERATED}/smoothquant.pc"
        DESTINATION "${SQ_PKGCONFIG_DIR}"
        COMPONENT ${SQ_DEVELOPMENT_COMPONENT})

# ---------------------------------------------------------------- CPack .deb
set(SQ_PACKAGE_CONTACT "libsmoothquant maintainers <maintainers@libsmoothquant.invalid>"
    CACHE STRING "Maintainer field of the Debian packages")
set(SQ_RUNTIME_PACKAGE "libsmoothquant${PROJECT_VERSION_MAJOR}")
set(SQ_DEVELOPMENT_PACKAGE "libsmoothquant-dev")

set(CPACK_PACKAGE_NAME "libsmoothquant")
set(CPACK_PACKAGE_VENDOR "libsmoothquant")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_CONTACT "${SQ_PACKAGE_CONTACT}")
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_COMPONENTS_ALL ${SQ_RUNTIME_COMPONENT} ${SQ_DEVELOPMENT_COMPONENT})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME "DEB-DEFAULT")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# Debian policy: shipped objects are stripped (the build tree keeps its debug info, which
# abi/check-abi.sh needs).
set(CPACK_STRIP_FILES ON)

# The first line of each Description is CPACK_PACKAGE_DESCRIPTION_SUMMARY (the project
# description); the per-package text below becomes the extended description.
# Runtime: Depends computed by dpkg-shlibdeps (static cudart: libc6, libstdc++6, libgcc-s1),
# a DEBIAN/shlibs file (only the runtime package holds a shared object) so that packages
# linking the library get "Depends: libsmoothquant0 (>= <version>)".
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME "${SQ_RUNTIME_PACKAGE}")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION "libs")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
    "Runtime library: SmoothQuant W8A8 int8 linear layers and quantization on the CPU
(host reference kernel) and on NVIDIA GPUs (sm_80 and later, wgmma on sm_90), bit for
bit the same on every kernel. The CUDA runtime is linked statically; GPU use needs only
the NVIDIA driver.")

# Development: headers, the link-time symlink, pkg-config and CMake package files.
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME "${SQ_DEVELOPMENT_PACKAGE}")
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION "libdevel")
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS "${SQ_RUNTIME_PACKAGE} (= ${PROJECT_VERSION})")
set(CPACK_DEBIAN_DEVELOPMENT_DESCRIPTION
    "Development files: the C header smoothquant/smoothquant.h, the libsmoothquant.so
link, the pkg-config file smoothquant.pc and the CMake package
(find_package(smoothquant CONFIG), target smoothquant::smoothquant).")

include(CPack)
