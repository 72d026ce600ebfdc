#include "protocol/json_merge.hpp"

#include <unordered_set>
#include <vector>

#include "protocol/json_scanner.hpp"

namespace tracecol::protocol {
namespace {

struct Member {
  std::string key;         // decoded, for comparison
  std::string_view bytes;  // "key": value, as written
};

/** Lists the top-level members of a validated object. */
std::vector<Member> members_of(std::string_view object) {
  std::vector<Member> out;
  JsonScanner scan;
  scan.reset(object.data(), object.data() + object.size(), 1u << 20);
  const char* p = object.data();
  scan.skip_ws(p);
  if (p == scan.end() || *p != '{') return out;
  ++p;
  for (;;) {
    scan.skip_ws(p);
    if (p >= scan.end() || *p != '"') return out;
    const char* member_start = p;
    std::string_view raw;
    bool escaped;
    if (!scan.scan_string(p, raw, escaped)) return out;
    std::string key;
    if (escaped) JsonScanner::unescape(raw, key);
    else key.assign(raw);
    scan.skip_ws(p);
    if (p >= scan.end() || *p != ':') return out;
    ++p;
    if (!scan.skip_value(p, 1)) return out;
    out.push_back({std::move(key), std::string_view(member_start, static_cast<std::size_t>(p - member_start))});
    scan.skip_ws(p);
    if (p >= scan.end() || *p != ',') return out;
    ++p;
  }
}

}  // namespace

std::string merge_json_objects(std::string_view base, std::string_view update) {
  const auto old_members = members_of(base);
  const auto new_members = members_of(update);
  if (old_members.empty()) return std::string(update.empty() ? std::string_view("{}") : update);
  if (new_members.empty()) return std::string(base);
  std::string out = "{";
  auto add = [&out](std::string_view bytes) {
    if (out.size() > 1) out += ',';
    out += bytes;
  };
  std::unordered_set<std::string_view> replaced;
  for (const auto& n : new_members) replaced.insert(n.key);
  for (const auto& m : old_members)
    if (!replaced.contains(m.key)) add(m.bytes);
  for (const auto& n : new_members) add(n.bytes);
  out += '}';
  return out;
}

bool remove_json_members(std::string& object, std::initializer_list<std::string_view> keys) {
  bool matched = false;
  {
    JsonScanner scan;
    scan.reset(object.data(), object.data() + object.size(), 1u << 20);
    const char* p = object.data();
    scan.skip_ws(p);
    if (p == scan.end() || *p != '{') return false;
    ++p;
    std::string key;
    while (!matched) {
      scan.skip_ws(p);
      if (p >= scan.end() || *p != '"') return false;
      std::string_view raw;
      bool escaped;
      if (!scan.scan_string(p, raw, escaped)) return false;
      key.clear();
      if (escaped) JsonScanner::unescape(raw, key);
      for (std::string_view k : keys) matched = matched || (escaped ? key : raw) == k;
      scan.skip_ws(p);
      if (p >= scan.end() || *p != ':') return false;
      ++p;
      if (!scan.skip_value(p, 1)) return false;
      scan.skip_ws(p);
      if (p >= scan.end() || *p != ',') break;
      ++p;
    }
  }
  if (!matched) return false;
  std::string out = "{";
  for (const auto& m : members_of(object)) {
    bool drop = false;
    for (std::string_view k : keys) drop = drop || m.key == k;
    if (drop) continue;
    if (out.size() > 1) out += ',';
    out += m.bytes;
  }
  out += '}';
  object = std::move(out);
  return true;
}

}  // namespace tracecol::protocol
