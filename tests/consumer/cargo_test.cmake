# cmake -D CARGO=<cargo> -D SOURCE=<bindings/rust> -D WORK=<dir in the build tree> -P cargo_test.cmake
# Runs `cargo test --offline` on a copy of the crate, so that Cargo.lock and every other file
# cargo writes stay in the build tree (CARGO_HOME and CARGO_TARGET_DIR come from the test's
# environment) and the source tree is never written.
foreach(var CARGO SOURCE WORK)
  if(NOT ${var})
    message(FATAL_ERROR "cargo_test.cmake: -D ${var}=... is required")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK}/crate")
file(COPY "${SOURCE}/" DESTINATION "${WORK}/crate")
execute_process(COMMAND "${CARGO}" test --offline --manifest-path "${WORK}/crate/Cargo.toml"
                RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "cargo test --offline failed: ${result}")
endif()
