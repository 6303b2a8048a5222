# Self-contained headers (Seastar's rule): every header of sim/, models/ and scenarios/ compiles on its own, so
# include order never matters. One generated translation unit per header, built as part of the default target.
file(GLOB_RECURSE rpsim_headers CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/sim/*.hpp ${CMAKE_SOURCE_DIR}/models/*.hpp ${CMAKE_SOURCE_DIR}/scenarios/*.hpp)
set(header_units "")
foreach(header ${rpsim_headers})
  file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR} ${header})
  string(MAKE_C_IDENTIFIER ${rel} unit)
  set(unit_file ${CMAKE_BINARY_DIR}/header_check/${unit}.cpp)
  file(CONFIGURE OUTPUT ${unit_file} CONTENT "#include \"${rel}\"\n")
  list(APPEND header_units ${unit_file})
endforeach()
add_library(rpsim_header_check OBJECT ${header_units})
target_link_libraries(rpsim_header_check PRIVATE rpsim_scenarios)
