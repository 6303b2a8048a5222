# The rpsim command line, exercised end to end by pytest under Debian's /usr/bin/python3.
add_test(NAME cli/pytest
         COMMAND /usr/bin/python3 -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/cli)
set_tests_properties(cli/pytest PROPERTIES
  ENVIRONMENT "RPSIM=${CMAKE_BINARY_DIR}/rpsim;RPSIM_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
  TIMEOUT 600)
