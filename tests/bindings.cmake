# The installed package and every language binding, each tested the way its users use it.
# Included from tests/CMakeLists.txt.
#
# A fixture installs this build into a fresh prefix inside the build tree (`cmake --install
# --prefix`); everything after it sees that prefix and nothing else: a C99 program built with
# `pkg-config --cflags --libs convt`, a C++ project using find_package(convt) + convt::convt
# and convt.hpp, the Python package (Debian's python3 and numpy), the Rust crate (`cargo test
# --offline`, linked through pkg-config) and the Go package (cgo, `#cgo pkg-config: convt`).
# A missing tool makes its test fail with a message saying what to install: these tests are
# never skipped. scripts/deps.sh installs every tool they need.

set(CONVT_TEST_PREFIX "${CMAKE_CURRENT_BINARY_DIR}/installed")
set(CONVT_TEST_LIBDIR "${CONVT_TEST_PREFIX}/${CMAKE_INSTALL_LIBDIR}")
set(CONVT_TEST_WORK "${CMAKE_CURRENT_BINARY_DIR}/bindings")
set(CONVT_BINDINGS_DIR "${PROJECT_SOURCE_DIR}/bindings")

find_program(CONVT_PKG_CONFIG pkg-config)
find_program(CONVT_GO go)
find_program(CONVT_CARGO cargo)
# Debian's python3, which Debian's python3-numpy belongs to, whatever python3 the PATH has.
find_program(CONVT_DEBIAN_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)

add_test(NAME package_installs_into_a_temporary_prefix
         COMMAND ${CMAKE_COMMAND} -D BUILD_DIR=${PROJECT_BINARY_DIR} -D PREFIX=${CONVT_TEST_PREFIX}
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/consumer/install.cmake)
set_tests_properties(package_installs_into_a_temporary_prefix PROPERTIES
                     FIXTURES_SETUP convt_installed)

# convt_tool_test(<name> <tool path> <what to install> COMMAND...): the test, or, without the
# tool, a test that fails saying what is missing.
function(convt_tool_test name tool hint)
  if(tool)
    add_test(NAME ${name} COMMAND ${ARGN})
  else()
    set(message "${name}: ${hint} not found; scripts/deps.sh installs it")
    add_test(NAME ${name} COMMAND sh -c "echo '${message}' >&2; exit 1")
  endif()
  set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED convt_installed TIMEOUT 300)
endfunction()

convt_tool_test(consumer_c99_builds_with_pkg_config_against_the_installed_prefix
                "${CONVT_PKG_CONFIG}" "pkg-config"
                sh ${CMAKE_CURRENT_SOURCE_DIR}/consumer/c99/run.sh ${CONVT_TEST_PREFIX}
                ${CMAKE_INSTALL_LIBDIR} ${CONVT_TEST_WORK}/c99)
set_tests_properties(consumer_c99_builds_with_pkg_config_against_the_installed_prefix PROPERTIES
                     ENVIRONMENT "CC=${CMAKE_C_COMPILER};PKG_CONFIG=${CONVT_PKG_CONFIG}")

add_test(NAME consumer_cpp_builds_with_find_package_against_the_installed_prefix
         COMMAND ${CMAKE_CTEST_COMMAND}
                 --build-and-test ${CMAKE_CURRENT_SOURCE_DIR}/consumer/cpp ${CONVT_TEST_WORK}/cpp
                 --build-generator ${CMAKE_GENERATOR}
                 --build-makeprogram ${CMAKE_MAKE_PROGRAM}
                 --build-options -DCMAKE_BUILD_TYPE=Release
                                 -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}
                                 -DCMAKE_PREFIX_PATH=${CONVT_TEST_PREFIX}
                                 -DCONVT_EXPECTED_PREFIX=${CONVT_TEST_PREFIX}
                                 -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
                                 -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF
                 --test-command consumer_cpp)
set_tests_properties(consumer_cpp_builds_with_find_package_against_the_installed_prefix
                     PROPERTIES FIXTURES_REQUIRED convt_installed TIMEOUT 300)

# pkg-config sees the temporary prefix and nothing else; the loader finds the library there.
set(CONVT_PREFIX_ENV
    "PKG_CONFIG=${CONVT_PKG_CONFIG}"
    "PKG_CONFIG_LIBDIR=${CONVT_TEST_LIBDIR}/pkgconfig"
    "PKG_CONFIG_PATH="
    "LD_LIBRARY_PATH=${CONVT_TEST_LIBDIR}")

convt_tool_test(python_binding_unittests "${CONVT_DEBIAN_PYTHON3}"
                "/usr/bin/python3 (python3-numpy)"
                ${CONVT_DEBIAN_PYTHON3} -m unittest discover -v
                -s ${CONVT_BINDINGS_DIR}/python/tests)
set_tests_properties(python_binding_unittests PROPERTIES ENVIRONMENT
  "PYTHONPATH=${CONVT_BINDINGS_DIR}/python;PYTHONDONTWRITEBYTECODE=1;PYTHONNOUSERSITE=1;\
CONVT_LIBRARY=${CONVT_TEST_LIBDIR}/libconvt.so.${PROJECT_VERSION_MAJOR}")

# The numbers the Python, Rust and Julia bindings copy from convt.h (Julia's only test).
convt_tool_test(bindings_constants_equal_the_header "${CONVT_DEBIAN_PYTHON3}" "/usr/bin/python3"
                ${CONVT_DEBIAN_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/consumer/check_constants.py
                ${PROJECT_SOURCE_DIR})

# Cargo's home, target and lock file all stay in the build tree; no network is used.
convt_tool_test(rust_binding_cargo_test "${CONVT_CARGO}" "cargo"
                ${CMAKE_COMMAND} -D CARGO=${CONVT_CARGO} -D SOURCE=${CONVT_BINDINGS_DIR}/rust
                -D WORK=${CONVT_TEST_WORK}/rust
                -P ${CMAKE_CURRENT_SOURCE_DIR}/consumer/cargo_test.cmake)
set_tests_properties(rust_binding_cargo_test PROPERTIES ENVIRONMENT
  "${CONVT_PREFIX_ENV};CARGO_HOME=${CONVT_TEST_WORK}/rust/cargo-home;\
CARGO_TARGET_DIR=${CONVT_TEST_WORK}/rust/target;CARGO_NET_OFFLINE=true;CARGO_TERM_COLOR=never")

# Go's caches stay in the build tree; no module proxy (the package has no dependencies).
convt_tool_test(go_binding_go_test "${CONVT_GO}" "go (golang-go)"
                ${CONVT_GO} test -count=1 -v ./...)
set_tests_properties(go_binding_go_test PROPERTIES
  WORKING_DIRECTORY ${CONVT_BINDINGS_DIR}/go
  ENVIRONMENT "${CONVT_PREFIX_ENV};CC=${CMAKE_C_COMPILER};CGO_ENABLED=1;GO111MODULE=on;\
GOCACHE=${CONVT_TEST_WORK}/go/cache;GOPATH=${CONVT_TEST_WORK}/go/path;\
GOMODCACHE=${CONVT_TEST_WORK}/go/path/pkg/mod;GOPROXY=off;GOTOOLCHAIN=local;GOTELEMETRY=off;\
GOFLAGS=")
