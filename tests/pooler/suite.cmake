# rpool tests: Catch2 unit tests of the pooler's pure parts and pytest integration tests against real Postgres.
if(TARGET rpool_core)
  file(GLOB pooler_unit_srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/pooler/*.cpp)
  if(pooler_unit_srcs)
    add_executable(test_pooler ${pooler_unit_srcs})
    target_link_libraries(test_pooler PRIVATE rpsim_catch_main rpool_core)
    catch_discover_tests(test_pooler TEST_PREFIX "pooler/unit/")
  endif()

  # Every pooler header compiles on its own (DESIGN.md); built on demand by this test.
  add_test(NAME pooler/headers_self_contained
           COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target rpool_header_check)

  # Each integration file starts its own Postgres; RPOOL_BIN points at the binary under test.
  foreach(name pgbench errors robustness admin lifecycle protocol)
    add_test(NAME pooler/integration/${name}
             COMMAND /usr/bin/python3 -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/pooler/test_${name}.py)
    set_tests_properties(pooler/integration/${name} PROPERTIES
                         ENVIRONMENT "RPOOL_BIN=${CMAKE_BINARY_DIR}/rpool"
                         TIMEOUT 180
                         RESOURCE_LOCK rpool_integration)
  endforeach()
endif()
