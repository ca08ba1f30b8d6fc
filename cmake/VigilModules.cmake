# SPDX-License-Identifier: Apache-2.0
#
# Module boundaries the build enforces.
#
# Every module src/<m>/ is a static library vigil_<m>. Its headers are
# included as "<m>/<header>.h", but nobody gets src/ itself on the include
# path. Instead, like Bazel's virtual includes, the build stages each
# module's headers as symbolic links in two trees:
#
#   <build>/modules/<m>/public/<m>/*.h    every header not listed as private
#   <build>/modules/<m>/private/<m>/*.h   the private ones
#
# vigil_<m> gets its public tree as a PUBLIC include directory (so exactly the
# modules that link it, directly or through a PUBLIC dependency, can include
# those headers) and its private tree as a PRIVATE one. A module that
# includes a header of a module it does not link, or a private header of any
# other module, fails to compile: tests/arch/ proves it in CI.
#
# Private headers are named in the module's CMakeLists.txt:
#   set(VIGIL_PRIVATE_HEADERS store_impl.h schema.h)
# before vigil_module_headers(<m>) runs (the root CMakeLists calls it after
# add_subdirectory). Tests of a module, its fuzzers and benchmarks may reach
# its internals through vigil_test_internals(<target> <module>...).

function(vigil_module_headers m)
  set(src_dir ${CMAKE_SOURCE_DIR}/src/${m})
  set(stage ${CMAKE_BINARY_DIR}/modules/${m})
  file(GLOB headers CONFIGURE_DEPENDS ${src_dir}/*.h)
  get_property(private DIRECTORY ${src_dir} PROPERTY VIGIL_PRIVATE_HEADERS_PROP)
  file(MAKE_DIRECTORY ${stage}/public/${m} ${stage}/private/${m})
  # Update the links in place (a re-configure during a build must not pull
  # headers from under a running compiler): add what is new, drop what went.
  set(wanted "")
  foreach(h IN LISTS headers)
    get_filename_component(name ${h} NAME)
    if(name IN_LIST private)
      set(link ${stage}/private/${m}/${name})
    else()
      set(link ${stage}/public/${m}/${name})
    endif()
    list(APPEND wanted ${link})
    if(NOT IS_SYMLINK ${link})
      file(CREATE_LINK ${h} ${link} SYMBOLIC)
    endif()
  endforeach()
  file(GLOB staged LIST_DIRECTORIES false ${stage}/public/${m}/* ${stage}/private/${m}/*)
  foreach(link IN LISTS staged)
    if(NOT link IN_LIST wanted)
      file(REMOVE ${link})
    endif()
  endforeach()
  target_include_directories(vigil_${m} PUBLIC $<BUILD_INTERFACE:${stage}/public>
                                        PRIVATE ${stage}/private)
endfunction()

# Lets test code (unit tests, fuzzers, benchmarks) include a module's private headers.
function(vigil_test_internals target)
  foreach(m IN LISTS ARGN)
    target_include_directories(${target} PRIVATE ${CMAKE_BINARY_DIR}/modules/${m}/private)
  endforeach()
endfunction()
