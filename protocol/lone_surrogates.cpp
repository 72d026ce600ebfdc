#include "protocol/lone_surrogates.hpp"

namespace tracecol::protocol {
namespace {

bool hex4(std::string_view s, std::size_t at, unsigned& cp) {
  if (at + 4 > s.size()) return false;
  cp = 0;
  for (std::size_t i = at; i < at + 4; ++i) {
    const char c = s[i];
    const unsigned d = c >= '0' && c <= '9'   ? static_cast<unsigned>(c - '0')
                       : c >= 'a' && c <= 'f' ? static_cast<unsigned>(c - 'a' + 10)
                       : c >= 'A' && c <= 'F' ? static_cast<unsigned>(c - 'A' + 10)
                                              : 16u;
    if (d == 16) return false;
    cp = cp << 4 | d;
  }
  return true;
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
