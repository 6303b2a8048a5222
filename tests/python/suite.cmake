# The Python package (python/tests): API, errors, Python-vs-CLI equality, Dask sweeps, and the notebooks run end to
# end through nbclient. Debian's /usr/bin/python3 only; the built package lives in RPSIM_PYTHON_DIR.
if(TARGET rpsim_core)
  set(_rpsim_python_env
    "PYTHONPATH=${RPSIM_PYTHON_DIR}"
    "RPSIM=${CMAKE_BINARY_DIR}/rpsim"
    "RPSIM_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
    "MPLBACKEND=Agg"
    "PYDEVD_DISABLE_FILE_VALIDATION=1")
  add_test(NAME python/api
           COMMAND /usr/bin/python3 -m pytest -q -p no:cacheprovider
                   ${CMAKE_SOURCE_DIR}/python/tests -k "not test_notebook_runs")
  set_tests_properties(python/api PROPERTIES ENVIRONMENT "${_rpsim_python_env}" TIMEOUT 600)
  # One ctest test per notebook, so that ctest -j runs them side by side.
  file(GLOB _rpsim_notebooks CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/python/notebooks/*.ipynb)
  foreach(nb ${_rpsim_notebooks})
    get_filename_component(stem ${nb} NAME_WE)
    add_test(NAME python/notebook/${stem}
             COMMAND /usr/bin/python3 -m pytest -q -p no:cacheprovider
                     ${CMAKE_SOURCE_DIR}/python/tests/test_notebooks.py -k "test_notebook_runs and ${stem}")
    set_tests_properties(python/notebook/${stem} PROPERTIES ENVIRONMENT "${_rpsim_python_env}" TIMEOUT 600)
  endforeach()
endif()
