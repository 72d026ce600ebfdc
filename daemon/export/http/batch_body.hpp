#pragma once
// The HTTP exporter's request body: a batch of already encoded records sent as they
// are, gathered (writev) instead of concatenated. Copying every record into one
// multi-MiB string per request cost more than the rest of the sender's user time: the
// records were written long before, so the copy ran from memory, not cache.

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "daemon/export/http/record_queue.hpp"

namespace tracecol::exporters::http {

/** A Beast body (write only): head, the records joined by separator, tail. */
struct BatchBody {
  struct value_type {
    std::string head;            // e.g. the OTLP request's opening, up to its spans array
    std::vector<Record> records; // owned for the request's life (moved in, moved back after)
    std::string separator;       // between records: "," for OTLP span lists, "" for NDJSON
    std::string tail;
  };

  static std::uint64_t size(const value_type& v) {
    std::uint64_t n = v.head.size() + v.tail.size();
    for (const auto& r : v.records) n += r.bytes.size();
    if (!v.records.empty()) n += v.separator.size() * (v.records.size() - 1);
    return n;
  }

  class writer {
   public:
    using const_buffers_type = std::vector<boost::asio::const_buffer>;

    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>&, const value_type& body) : body_(body) {}

    void init(boost::beast::error_code& ec) {
      ec = {};
      buffers_.clear();
      buffers_.reserve(2 * body_.records.size() + 2);
      add(body_.head);
      for (std::size_t i = 0; i < body_.records.size(); ++i) {
        if (i > 0) add(body_.separator);
        add(body_.records[i].bytes);
      }
      add(body_.tail);
    }

    /** Everything at once: the records are in memory already. */
    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      if (done_) return boost::none;
      done_ = true;
      return std::make_pair(buffers_, false);
    }

   private:
    void add(const std::string& s) {
      if (!s.empty()) buffers_.emplace_back(s.data(), s.size());
    }
    const value_type& body_;
    const_buffers_type buffers_;
    bool done_ = false;
  };
};

}  // namespace tracecol::exporters::http
