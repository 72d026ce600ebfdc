#include "protocol/lone_surrogates.hpp"

#include "protocol/json_scanner.hpp"

namespace tracecol::protocol {
namespace {

/** The \u escape's four hex digits at json[at], when all four are there. */
bool hex4(std::string_view json, std::size_t at, unsigned& cp) {
  return at + 4 <= json.size() && JsonScanner::read_hex4(json.data() + at, cp);
}

bool is_high(unsigned cp) { return cp >= 0xd800 && cp <= 0xdbff; }
bool is_low(unsigned cp) { return cp >= 0xdc00 && cp <= 0xdfff; }

}  // namespace

bool may_hold_surrogate_escape(std::string_view json) {
  return json.find("\\ud") != std::string_view::npos || json.find("\\uD") != std::string_view::npos;
}

std::size_t replace_lone_surrogates(std::string& json) {
  std::size_t replaced = 0;
  // A backslash only ever starts an escape (valid JSON has none outside strings), and an
  // escape's second byte is never one: stepping escape by escape keeps us aligned.
  for (std::size_t i = json.find('\\'); i != std::string::npos && i + 1 < json.size(); i = json.find('\\', i)) {
    unsigned cp = 0;
    if (json[i + 1] != 'u' || !hex4(json, i + 2, cp)) {
      i += 2;
      continue;
    }
    unsigned low = 0;
    if (is_high(cp) && i + 11 < json.size() && json[i + 6] == '\\' && json[i + 7] == 'u' && hex4(json, i + 8, low) &&
        is_low(low)) {
      i += 12;  // a whole pair
      continue;
    }
    if (is_high(cp) || is_low(cp)) {
      json.replace(i + 2, 4, "fffd");
      ++replaced;
    }
    i += 6;
  }
  return replaced;
}

}  // namespace tracecol::protocol
