#pragma once
// Re-indents compact JSON text without re-serializing it: numbers and strings keep the
// daemon's exact bytes (1732500000.000000 stays as written).

#include <string>
#include <string_view>

namespace tracecol::cli {

/**
 * Two spaces per level, one member or element per line, "key": value, empty {} and []
 * kept on one line. json must be valid JSON (check first); whitespace outside strings is
 * dropped. Iterative: any depth.
 */
std::string pretty_json(std::string_view json);

}  // namespace tracecol::cli
