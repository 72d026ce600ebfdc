#pragma once
// Exact accounting (issue #6): the identities of docs/metrics.md, read from a /metrics
// scrape or from the exit summary into one shape, and checked exactly. Shared by
// test_accounting.cpp and test_overload.cpp.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "tests/integration/http_client.hpp"
#include "tests/integration/proc_probe.hpp"
#include "tests/unit/http/prometheus_text.hpp"

namespace tracecol::integration::accounting {

/** One exporter's span accounts, end to end. */
struct ExporterAccounts {
  std::uint64_t published = 0;  // spans handed to it (records + live spans)
  std::uint64_t live = 0;       // of those, lone live spans (the stream exporter only)
  std::uint64_t sent = 0;
  std::uint64_t dropped = 0;    // every reason
  std::uint64_t pending = 0;
  bool operator==(const ExporterAccounts&) const = default;
};

struct Accounts {
  // Lines (events).
  std::uint64_t lines = 0, accepted = 0, rejected = 0, control = 0, blank = 0, partial = 0;
  // Spans.
  std::uint64_t spans_accepted = 0, spans_sampled_out = 0, spans_published = 0, spans_open = 0;
  std::uint64_t span_updates = 0;  // follow-up copies of spans exported before (published)
  std::uint64_t spans_stored = 0, spans_held = 0, spans_evicted = 0;
  std::map<std::string, ExporterAccounts> exporters;
  bool operator==(const Accounts&) const = default;
};

inline std::string describe(const Accounts& a) {
  std::ostringstream o;
  o << "lines=" << a.lines << " accepted=" << a.accepted << " rejected=" << a.rejected << " control=" << a.control
    << " blank=" << a.blank << " partial=" << a.partial << " spans_accepted=" << a.spans_accepted
    << " sampled_out=" << a.spans_sampled_out << " published=" << a.spans_published << " open=" << a.spans_open
    << " stored=" << a.spans_stored << " held=" << a.spans_held << " evicted=" << a.spans_evicted;
  for (const auto& [name, e] : a.exporters)
    o << " | " << name << ": published=" << e.published << " live=" << e.live << " sent=" << e.sent
      << " dropped=" << e.dropped << " pending=" << e.pending;
  return o.str();
}

/** The accounts in one /metrics exposition (every family must be there). */
inline Accounts from_metrics(const test::prometheus::Exposition& x) {
  Accounts a;
  auto v = [&](const std::string& name, const test::prometheus::Labels& labels = {}) -> std::uint64_t {
    const auto value = x.value(name, labels);
    INFO("metric " << name);
    CHECK(value.has_value());
    return static_cast<std::uint64_t>(value.value_or(0));
  };
  // Sums a family over every sample whose labels include `match`.
  auto sum = [&](const std::string& name, const test::prometheus::Labels& match = {}) {
    std::uint64_t total = 0;
    for (const auto& f : x.families)
      for (const auto& s : f.samples) {
        if (s.name != name) continue;
        bool ok = true;
        for (const auto& [k, val] : match) ok = ok && s.labels.count(k) && s.labels.at(k) == val;
        if (ok) total += static_cast<std::uint64_t>(s.value);
      }
    return total;
  };
  a.lines = v("tracecol_lines_received_total");
  a.accepted = v("tracecol_events_accepted_total");
  a.rejected = sum("tracecol_lines_rejected_total");
  a.control = v("tracecol_control_lines_total");
  a.blank = v("tracecol_blank_lines_total");
  a.partial = v("tracecol_partial_lines_dropped_total");
  a.spans_accepted = v("tracecol_spans_accepted_total");
  a.spans_sampled_out = v("tracecol_spans_sampled_out_total");
  a.spans_published = v("tracecol_spans_published_total");
  a.span_updates = v("tracecol_span_updates_published_total");
  a.spans_open = v("tracecol_spans_open");
  a.spans_stored = v("tracecol_spans_stored_total");
  a.spans_held = v("tracecol_store_spans");
  a.spans_evicted = sum("tracecol_spans_evicted_total");
  for (const auto& f : x.families) {
    if (f.name != "tracecol_exporter_published_spans_total") continue;
    for (const auto& s : f.samples) {
      const std::string name = s.labels.at("exporter");
      const test::prometheus::Labels l{{"exporter", name}};
      ExporterAccounts& e = a.exporters[name];
      e.published = static_cast<std::uint64_t>(s.value);
      e.live = v("tracecol_exporter_live_spans_total", l);
      e.sent = v("tracecol_exporter_sent_spans_total", l);
      e.pending = v("tracecol_exporter_pending_spans", l);
      e.dropped = sum("tracecol_exporter_dropped_spans_total", l);
    }
  }
  return a;
}

/** The accounts in the exit summary line (every field must be there). */
inline Accounts from_summary(const std::string& line) {
  Accounts a;
  // The daemon's own part ends at the first exporter section.
  const auto bar = line.find(" | ");
  const std::string head = line.substr(0, bar) + " ";
  auto f = [](const std::string& text, const std::string& key) -> std::uint64_t {
    const auto value = field(text, key);
    INFO("summary field " << key << " in: " << text);
    CHECK(value.has_value());
    return value.value_or(0);
  };
  a.lines = f(head, "lines");
  a.accepted = f(head, "accepted");
  a.rejected = f(head, "rejected");
  a.control = f(head, "control");
  a.blank = f(head, "blank");
  a.partial = f(head, "partial_dropped");
  a.spans_accepted = f(head, "spans");
  a.spans_sampled_out = f(head, "spans_sampled_out");
  a.spans_published = f(head, "spans_published");
  a.span_updates = f(head, "span_updates_published");
  a.spans_open = f(head, "spans_open");
  a.spans_stored = f(head, "spans_stored");
  a.spans_held = f(head, "spans_held");
  a.spans_evicted = f(head, "spans_evicted.max_traces") + f(head, "spans_evicted.max_bytes");
  // The exporter sections, " | name: key=value ...", one after another.
  std::string_view rest = bar == std::string::npos ? std::string_view() : std::string_view(line).substr(bar + 3);
  while (!rest.empty()) {
    const auto next = rest.find(" | ");
    const std::string_view text = rest.substr(0, next);
    rest = next == std::string_view::npos ? std::string_view() : rest.substr(next + 3);
    const std::string section = std::string(text) + " ";
    const auto colon = text.find(':');
    ExporterAccounts& e = a.exporters[std::string(text.substr(0, colon))];
    e.published = f(section, "spans_published");
    e.live = f(section, "live_spans");
    e.sent = f(section, "spans_sent");
    e.dropped = f(section, "spans_dropped") + f(section, "spans_failed");
    e.pending = f(section, "spans_pending");
  }
  return a;
}

/**
 * The identities of docs/metrics.md, exactly:
 *   lines = accepted + rejected + control                     (blank and partial apart)
 *   spans_accepted = spans_published + spans_sampled_out + spans_open
 *   spans_stored = spans_accepted = spans_held + spans_evicted
 *   per exporter: sent + dropped + pending = published = spans_published + span_updates + live
 */
inline void check_identities(const Accounts& a) {
  INFO(describe(a));
  CHECK(a.lines == a.accepted + a.rejected + a.control);
  CHECK(a.spans_accepted == a.spans_published + a.spans_sampled_out + a.spans_open);
  CHECK(a.spans_stored == a.spans_accepted);
  CHECK(a.spans_stored == a.spans_held + a.spans_evicted);
  CHECK(!a.exporters.empty());
  for (const auto& [name, e] : a.exporters) {
    INFO("exporter " << name);
    CHECK(e.sent + e.dropped + e.pending == e.published);
    CHECK(e.published - e.live == a.spans_published + a.span_updates);
    // The form: sent + dropped + pending = accepted - sampled out (- still open).
    CHECK(e.sent + e.dropped + e.pending - e.live - a.span_updates ==
          a.spans_accepted - a.spans_sampled_out - a.spans_open);
  }
}

/** One /metrics scrape, strictly parsed; nullopt if the request failed. */
inline std::optional<Accounts> scrape(int port) {
  HttpClient c(port);
  if (!c.connected()) return std::nullopt;
  auto r = c.request("GET", "/metrics");
  if (!r || r->status != 200) return std::nullopt;
  const auto x = test::prometheus::parse(r->body);
  if (!x.errors.empty()) return std::nullopt;
  return from_metrics(x);
}

/**
 * A quiet moment: two scrapes in a row with the same accounts and nothing pending in any
 * exporter (when `no_pending`). Returns that scrape, or nullopt at the deadline.
 */
inline std::optional<Accounts> quiet_scrape(int port, bool no_pending = true,
                                            std::chrono::milliseconds timeout = default_deadline) {
  // Unchanged for this long, not just between two scrapes: a trace inside its linger (the
  // tests use 50 ms) moves nothing until its timer fires, and a scrape answered in a few
  // milliseconds can fall entirely inside that window.
  constexpr auto steady_for = std::chrono::milliseconds(250);
  std::optional<Accounts> last, quiet;
  auto since = std::chrono::steady_clock::now();
  wait_until(
      [&] {
        auto now = scrape(port);
        if (!now) return false;
        bool idle = true;
        if (no_pending)
          for (const auto& [name, e] : now->exporters) idle = idle && e.pending == 0;
        const auto at = std::chrono::steady_clock::now();
        if (!(last && *last == *now && idle)) since = at;
        last = now;
        if (at - since >= steady_for) quiet = now;
        return quiet.has_value();
      },
      timeout);
  return quiet;
}

}  // namespace tracecol::integration::accounting
