#pragma once
// A strict reader of the Prometheus text format 0.0.4, for tests of /metrics: it accepts
// only what a well-formed exposition may hold and lists every violation it finds.
// Header-only and doctest-free, so unit and integration tests both use it.

#include <cstddef>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tracecol::test::prometheus {

using Labels = std::map<std::string, std::string>;  // name -> unescaped value

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

struct Family {
  std::string name;
  std::string type;
  std::string help;
  std::vector<Sample> samples;
};

struct Exposition {
  std::vector<Family> families;
  std::vector<std::string> errors;  // empty when the text is well-formed

  const Family* family(std::string_view name) const {
    for (const auto& f : families)
      if (f.name == name) return &f;
    return nullptr;
  }
  /** The value of the sample with exactly these labels; nullopt when absent. */
  std::optional<double> value(std::string_view sample_name, const Labels& labels = {}) const {
    for (const auto& f : families)
      for (const auto& s : f.samples)
        if (s.name == sample_name && s.labels == labels) return s.value;
    return std::nullopt;
  }
};

namespace detail {

inline bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
inline bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

inline bool metric_name(std::string_view s) {
  if (s.empty() || !name_start(s[0])) return false;
  for (char c : s)
    if (!name_char(c)) return false;
  return true;
}

inline bool label_name(std::string_view s) { return metric_name(s) && s.find(':') == std::string_view::npos; }

/** A float as the format allows it: a decimal / exponent number, +Inf, -Inf or NaN. */
inline std::optional<double> parse_value(const std::string& s) {
  if (s == "+Inf") return std::numeric_limits<double>::infinity();
  if (s == "-Inf") return -std::numeric_limits<double>::infinity();
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (s.empty() || s.find_first_not_of("0123456789.eE+-") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

/** `name{a="x",b="y"} value`; false with why set when the line breaks the grammar. */
inline bool parse_sample(std::string_view line, Sample& out, std::string& why) {
  std::size_t i = 0;
  while (i < line.size() && name_char(line[i])) ++i;
  out.name = std::string(line.substr(0, i));
  if (!metric_name(out.name)) return why = "bad metric name", false;
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      const std::size_t start = i;
      while (i < line.size() && name_char(line[i])) ++i;
      const std::string name(line.substr(start, i - start));
      if (!label_name(name)) return why = "bad label name", false;
      if (line.substr(i, 2) != "=\"") return why = "label without =\"", false;
      i += 2;
      std::string value;
      for (;; ++i) {
        if (i >= line.size()) return why = "unterminated label value", false;
        if (line[i] == '"') break;
        if (line[i] == '\\') {
          if (++i >= line.size()) return why = "dangling escape", false;
          if (line[i] == 'n') value += '\n';
          else if (line[i] == '\\' || line[i] == '"') value += line[i];
          else return why = "unknown escape", false;
        } else {
          value += line[i];
        }
      }
      ++i;
      if (!out.labels.emplace(name, value).second) return why = "duplicate label", false;
      if (i < line.size() && line[i] == ',') {
        ++i;
        if (i < line.size() && line[i] == '}') return why = "trailing comma", false;
      } else if (i >= line.size() || line[i] != '}') {
        return why = "labels not separated by ','", false;
      }
    }
    if (i >= line.size()) return why = "unterminated label set", false;
    ++i;
  }
  if (i >= line.size() || line[i] != ' ') return why = "no single space before the value", false;
  const std::string value_text(line.substr(i + 1));
  // A timestamp would follow a second space; /metrics never sends one.
  const auto v = parse_value(value_text);
  if (!v) return why = "bad value '" + value_text + "'", false;
  out.value = *v;
  return true;
}

/** The family a sample name belongs to, given the family's type. */
inline bool belongs(const Family& f, const std::string& sample) {
  if (f.type != "histogram") return sample == f.name;
  return sample == f.name + "_bucket" || sample == f.name + "_sum" || sample == f.name + "_count";
}

inline void check_histogram(const Family& f, std::vector<std::string>& errors) {
  // Group by the labels other than le.
  std::map<Labels, std::vector<std::pair<double, double>>> buckets;  // le -> cumulative count
  std::map<Labels, double> sums, counts;
  for (const auto& s : f.samples) {
    Labels key = s.labels;
    if (s.name == f.name + "_bucket") {
      auto le = key.find("le");
      if (le == key.end()) {
        errors.push_back(f.name + ": bucket without le");
        continue;
      }
      const auto bound = parse_value(le->second);
      if (!bound) errors.push_back(f.name + ": bad le '" + le->second + "'");
      key.erase(le);
      buckets[key].emplace_back(bound.value_or(0), s.value);
    } else if (s.name == f.name + "_sum") {
      sums[key] = s.value;
    } else {
      counts[key] = s.value;
    }
  }
  for (const auto& [key, list] : buckets) {
    for (std::size_t i = 1; i < list.size(); ++i) {
      if (!(list[i].first > list[i - 1].first)) errors.push_back(f.name + ": le not increasing");
      if (list[i].second < list[i - 1].second) errors.push_back(f.name + ": buckets not cumulative");
    }
    if (list.empty() || list.back().first != std::numeric_limits<double>::infinity()) errors.push_back(f.name + ": last bucket is not +Inf");
    if (!sums.contains(key)) errors.push_back(f.name + ": no _sum");
    if (!counts.contains(key)) errors.push_back(f.name + ": no _count");
    else if (!list.empty() && list.back().second != counts[key]) errors.push_back(f.name + ": +Inf bucket != _count");
  }
  for (const auto& [key, n] : counts) {
    (void)n;
    if (!buckets.contains(key)) errors.push_back(f.name + ": _count without buckets");
  }
}

}  // namespace detail

/**
 * Reads an exposition. Checked: every line ends in '\n'; comments are only HELP/TYPE,
 * each once per family, HELP then TYPE, before the family's samples; samples of a family
 * are contiguous and belong to it; no duplicate series; label names and escapes valid;
 * counters non-negative; histograms with increasing le, cumulative counts, a last +Inf
 * bucket equal to _count, and _sum.
 */
inline Exposition parse(std::string_view text) {
  Exposition x;
  auto error = [&](std::size_t line_no, const std::string& why) {
    x.errors.push_back("line " + std::to_string(line_no) + ": " + why);
  };
  if (!text.empty() && text.back() != '\n') x.errors.push_back("text does not end in a newline");
  std::set<std::string> seen_families;
  std::set<std::pair<std::string, Labels>> seen_series;
  std::string pending_help_for;
  std::string pending_help;
  std::size_t line_no = 0;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t nl = text.find('\n', at);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view line = text.substr(at, nl - at);
    at = nl + 1;
    ++line_no;
    if (line.empty()) {
      error(line_no, "empty line");
    } else if (line.starts_with("# HELP ")) {
      const std::string_view rest = line.substr(7);
      const std::size_t sp = rest.find(' ');
      pending_help_for = std::string(rest.substr(0, sp));
      pending_help = sp == std::string_view::npos ? "" : std::string(rest.substr(sp + 1));
      if (!detail::metric_name(pending_help_for)) error(line_no, "bad name in HELP");
      if (seen_families.contains(pending_help_for)) error(line_no, "HELP again for " + pending_help_for);
    } else if (line.starts_with("# TYPE ")) {
      const std::string_view rest = line.substr(7);
      const std::size_t sp = rest.find(' ');
      Family f;
      f.name = std::string(rest.substr(0, sp));
      f.type = sp == std::string_view::npos ? "" : std::string(rest.substr(sp + 1));
      if (f.type != "counter" && f.type != "gauge" && f.type != "histogram" && f.type != "summary" &&
          f.type != "untyped")
        error(line_no, "bad type '" + f.type + "'");
      if (!seen_families.insert(f.name).second) error(line_no, "TYPE again for " + f.name);
      if (pending_help_for != f.name) error(line_no, "TYPE " + f.name + " without HELP right before it");
      f.help = pending_help;
      pending_help_for.clear();
      x.families.push_back(std::move(f));
    } else if (line.starts_with("#")) {
      error(line_no, "comment that is neither HELP nor TYPE");
    } else {
      Sample s;
      std::string why;
      if (!detail::parse_sample(line, s, why)) {
        error(line_no, why + ": " + std::string(line));
        continue;
      }
      if (x.families.empty() || !detail::belongs(x.families.back(), s.name)) {
        error(line_no, s.name + " outside its family (no TYPE right before its group)");
        continue;
      }
      if (!seen_series.emplace(s.name, s.labels).second) error(line_no, "duplicate series " + s.name);
      if (x.families.back().type == "counter" && !(s.value >= 0)) error(line_no, "negative counter");
      x.families.back().samples.push_back(std::move(s));
    }
  }
  for (const auto& f : x.families) {
    if (f.type == "histogram") detail::check_histogram(f, x.errors);
  }
  return x;
}

}  // namespace tracecol::test::prometheus
