#include "daemon/export/http/http_client.hpp"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "daemon/log.hpp"

namespace tracecol::exporters::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t max_answer_body = 1 << 20;  // an exporter only reads status and a short reason
constexpr auto tok = net::as_tuple(net::use_awaitable);

/** A failed step: timeout when the stream's expiry fired, else a connection error. */
Attempt failed(const boost::system::error_code& ec, const std::string& step) {
  Attempt a;
  a.outcome = ec == beast::error::timeout ? Outcome::timeout : Outcome::connection_error;
  a.detail = step + ": " + ec.message();
  return a;
}

}  // namespace

struct HttpClient::Impl {
  ClientOptions options;
  net::io_context io{1};
  std::optional<net::ssl::context> tls_context;
  std::optional<tcp::resolver> resolver;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  bool connected = false;
  std::atomic<bool> aborted{false};

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  void close() {
    if (plain || tls) {
      boost::system::error_code ignored;
      lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      lowest().socket().close(ignored);
    }
    connected = false;
  }

  net::awaitable<Attempt> connect() {
    Attempt a;
    close();
    plain.reset();
    tls.reset();
    buffer.clear();
    if (options.url.tls) tls.emplace(io, *tls_context);
    else plain.emplace(io);
    resolver.emplace(io);
    auto [rec, endpoints] = co_await resolver->async_resolve(options.url.host, options.url.port, tok);
    if (rec) co_return failed(rec, "resolve " + options.url.host);
    if (aborted.load()) co_return failed(net::error::operation_aborted, "connect");
    lowest().expires_after(options.timeout);
    auto [cec, ep] = co_await lowest().async_connect(endpoints, tok);
    (void)ep;
    if (cec) co_return failed(cec, "connect");
    if (tls) {
      // SNI, and the certificate must name the host we asked for.
      if (!SSL_ctrl(tls->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                    const_cast<char*>(options.url.host.c_str())))
        co_return failed(net::error::invalid_argument, "TLS SNI");
      if (!options.insecure) tls->set_verify_callback(net::ssl::host_name_verification(options.url.host));
      auto [hec] = co_await tls->async_handshake(net::ssl::stream_base::client, tok);
      if (hec) co_return failed(hec, "TLS handshake");
    }
    connected = true;
    a.outcome = Outcome::ok;
    co_return a;
  }

  template <typename Stream>
  net::awaitable<Attempt> exchange(Stream& stream, Request& req, bool& answered) {
    Attempt a;
    lowest().expires_after(options.timeout);
    auto [wec, written] = co_await bhttp::async_write(stream, req, tok);
    (void)written;
    if (wec && (wec == beast::error::timeout || aborted.load())) co_return failed(wec, "write");
    if (wec) {
      // A receiver may answer before the body is all in and close (a 413 for a body over its
      // limit): the write then fails with a broken pipe or a reset, yet the answer is in our
      // receive buffer. Read it, briefly: a 413 is final, a retry would send the same bytes.
      lowest().expires_after(std::min<std::chrono::milliseconds>(options.timeout, std::chrono::seconds(1)));
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(max_answer_body);
    auto [rec, read] = co_await bhttp::async_read(stream, buffer, parser, tok);
    (void)read;
    if (wec && (rec || !parser.is_done())) co_return failed(wec, "write");
    if (rec) co_return failed(rec, "read");
    if (wec) close();  // the request was cut short: the connection carries nothing more
    answered = true;
    auto& res = parser.get();
    a.status = res.result_int();
    a.outcome = classify_status(a.status);
    if (auto it = res.find(bhttp::field::retry_after); it != res.end()) a.retry_after = std::string(it->value());
    if (a.outcome == Outcome::ok) {
      const auto type = res[bhttp::field::content_type];
      a.partial = read_partial_success(res.body(), beast::iequals(type.substr(0, 22), "application/x-protobuf"));
    }
    a.detail = "HTTP " + std::to_string(a.status);
    if (!res.body().empty()) {
      // For the log line: the answer may be binary (a protobuf Status) or hostile (terminal
      // escapes), so anything but printable ASCII shows as '?'.
      a.detail += ": ";
      a.detail += daemon::printable_for_log(res.body());
    }
    if (!res.keep_alive()) close();
    co_return a;
  }

  net::awaitable<Attempt> attempt(Request& req) {
    for (int round = 0;; ++round) {
      const bool reused = connected;
      if (!connected) {
        Attempt c = co_await connect();
        if (c.outcome != Outcome::ok) {
          close();
          co_return c;
        }
      }
      bool answered = false;
      Attempt a;
      if (tls) a = co_await exchange(*tls, req, answered);
      else a = co_await exchange(*plain, req, answered);
      if (!answered) close();
      if (answered || !reused || round > 0 || aborted.load() || a.outcome == Outcome::timeout) co_return a;
    }
  }
};

std::unique_ptr<HttpClient> HttpClient::create(ClientOptions options, std::string* error) {
  auto impl = std::make_unique<Impl>();
  if (options.url.tls) {
    try {
      impl->tls_context.emplace(net::ssl::context::tls_client);
      auto& ctx = *impl->tls_context;
      ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                      net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
      if (options.insecure) {
        ctx.set_verify_mode(net::ssl::verify_none);
      } else {
        ctx.set_default_verify_paths();
        if (!options.ca_file.empty()) ctx.load_verify_file(options.ca_file);
        ctx.set_verify_mode(net::ssl::verify_peer);
      }
    } catch (const boost::system::system_error& e) {
      if (error) *error = std::string("TLS setup: ") + e.what();
      return nullptr;
    }
  }
  impl->options = std::move(options);
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpClient::~HttpClient() { impl_->close(); }

Attempt HttpClient::post(Request& req) {
  Impl& m = *impl_;
  if (m.aborted.load()) return Attempt{Outcome::connection_error, 0, {}, "aborted", std::nullopt};
  req.set(bhttp::field::host, m.options.url.host_header);
  req.keep_alive(true);
  req.prepare_payload();
  Attempt result{Outcome::connection_error, 0, {}, "aborted", std::nullopt};
  m.io.restart();
  net::co_spawn(m.io, m.attempt(req), [&result](std::exception_ptr e, Attempt a) {
    if (e) result = Attempt{Outcome::connection_error, 0, {}, "internal error", std::nullopt};
    else result = std::move(a);
  });
  m.io.run();
  return result;
}

void HttpClient::abort() {
  impl_->aborted.store(true);
  // Runs on the sender thread inside post(): closing the socket fails the pending step.
  net::post(impl_->io, [impl = impl_.get()] { impl->close(); });
}

}  // namespace tracecol::exporters::http
