# Project-wide warnings live in one INTERFACE target every library links.
add_library(tracecol_warnings INTERFACE)
target_compile_options(tracecol_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Wunused -Woverloaded-virtual -Wimplicit-fallthrough)

# RapidJSON 1.1.0 ships no CMake target: wrap its include dirs in one.
find_package(RapidJSON REQUIRED)
add_library(tracecol_rapidjson INTERFACE)
target_include_directories(tracecol_rapidjson SYSTEM INTERFACE ${RAPIDJSON_INCLUDE_DIRS})
