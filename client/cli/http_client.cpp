#include "client/cli/http_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <charconv>
#include <fstream>

#include <rapidjson/document.h>

#include "client/cli/table.hpp"

namespace tracecol::cli {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp_stream = beast::basic_stream<net::ip::tcp>;
using unix_stream = beast::basic_stream<net::local::stream_protocol>;

constexpr std::size_t max_body_bytes = std::size_t{1} << 30;

std::string connect_error(const HttpEndpoint& ep, const beast::error_code& ec) {
  std::string why = ec == beast::error::timeout ? std::string("timed out") : ec.message();
  return "cannot connect to the tracecol HTTP API at " + ep.text + ": " + why + " (is tracecol running with --http-listen?)";
}

net::awaitable<void> connect(tcp_stream& stream, const HttpEndpoint& ep, beast::error_code& ec) {
  net::ip::tcp::resolver resolver(co_await net::this_coro::executor);
  auto token = net::redirect_error(net::use_awaitable, ec);
  auto results = co_await resolver.async_resolve(ep.host, ep.port, token);
  if (ec) co_return;
  co_await stream.async_connect(results, token);
}

net::awaitable<void> connect(unix_stream& stream, const HttpEndpoint& ep, beast::error_code& ec) {
  auto token = net::redirect_error(net::use_awaitable, ec);
  net::local::stream_protocol::endpoint where(ep.path);
  co_await stream.async_connect(where, token);
}

http::request<http::empty_body> make_request(const HttpEndpoint& ep, const std::string& target) {
  http::request<http::empty_body> req{http::verb::get, target, 11};
  const bool v6 = ep.host.find(':') != std::string::npos;
  req.set(http::field::host, ep.is_unix ? std::string("localhost")
                                        : (v6 ? "[" + ep.host + "]" : ep.host) + ":" + ep.port);
  req.set(http::field::user_agent, "tracectl/" TRACECOL_VERSION);
  if (!ep.token.empty()) req.set(http::field::authorization, "Bearer " + ep.token);
  req.set(http::field::connection, "close");
  return req;
}

template <class Stream>
net::awaitable<HttpResult> get_on(Stream& stream, const HttpEndpoint& ep, std::string target,
                                  std::chrono::milliseconds timeout) {
  HttpResult result;
  beast::error_code ec;
  auto token = net::redirect_error(net::use_awaitable, ec);
  stream.expires_after(timeout);
  co_await connect(stream, ep, ec);
  if (ec) {
    result.error = connect_error(ep, ec);
    co_return result;
  }
  auto req = make_request(ep, target);
  co_await http::async_write(stream, req, token);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body_bytes);
  if (!ec) co_await http::async_read(stream, buffer, parser, token);
  if (ec) {
    result.error = "GET " + target + " from " + ep.text + ": " +
                   (ec == beast::error::timeout ? std::string("timed out") : ec.message());
    co_return result;
  }
  auto& res = parser.get();
  result.ok = true;
  result.status = res.result_int();
  result.content_type = std::string(res[http::field::content_type]);
  result.body = std::move(res.body());
  co_return result;
}

template <class Stream>
net::awaitable<StreamEnd> stream_on(Stream& stream, const HttpEndpoint& ep, std::string target,
                                    StreamOptions options, std::function<bool(std::string_view)>& on_data) {
  StreamEnd end;
  beast::error_code ec;
  auto token = net::redirect_error(net::use_awaitable, ec);
  stream.expires_after(options.connect_timeout);
  co_await connect(stream, ep, ec);
  if (ec) {
    end.reason = connect_error(ep, ec);
    co_return end;
  }
  auto req = make_request(ep, target);
  req.set(http::field::accept, "text/event-stream");
  co_await http::async_write(stream, req, token);
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);  // the stream never ends
  if (!ec) co_await http::async_read_header(stream, buffer, parser, token);
  if (ec) {
    end.reason = ec == beast::error::timeout ? std::string("timed out waiting for the answer") : ec.message();
    co_return end;
  }
  end.status = parser.get().result_int();
  end.connected = end.status == 200;
  std::string error_body;
  char chunk[64 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    stream.expires_after(end.connected ? options.idle_timeout : options.connect_timeout);
    // read_some: hand over whatever arrived; read would wait to fill the whole chunk.
    co_await http::async_read_some(stream, buffer, parser, token);
    if (ec == http::error::need_buffer) ec = {};
    const std::size_t n = sizeof chunk - parser.get().body().size;
    if (n > 0) {
      const std::string_view bytes(chunk, n);
      if (!end.connected) {
        if (error_body.size() < 4096) error_body.append(bytes);
      } else if (!on_data(bytes)) {
        end.reason = "stopped by the reader";
        co_return end;
      }
    }
    if (ec) break;
  }
  end.body = std::move(error_body);
  if (!ec || ec == http::error::end_of_stream || ec == net::error::eof) end.reason = "the server closed the stream";
  else if (ec == beast::error::timeout) end.reason = "no data for " + std::to_string(options.idle_timeout.count()) + " ms";
  else end.reason = ec.message();
  co_return end;
}

}  // namespace

std::optional<HttpEndpoint> http_endpoint_with_token(std::string_view text, const std::string& token_file,
                                                     std::string& error) {
  auto ep = parse_http_endpoint(text, error);
  if (!ep || token_file.empty()) return ep;
  std::ifstream in(token_file, std::ios::binary);
  std::string content(4097, '\0');
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  if (!in && !in.eof()) {
    error = "--token-file: cannot read " + token_file;
    return std::nullopt;
  }
  content.resize(static_cast<std::size_t>(in.gcount()));
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!content.empty() && space(content.back())) content.pop_back();
  std::size_t start = 0;
  while (start < content.size() && space(content[start])) ++start;
  ep->token = content.substr(start);
  if (ep->token.empty() || content.size() > 4096) {
    error = "--token-file: " + token_file + " must hold one token of at most 4096 bytes";
    return std::nullopt;
  }
  return ep;
}

std::optional<HttpEndpoint> parse_http_endpoint(std::string_view text, std::string& error) {
  HttpEndpoint ep;
  ep.text = std::string(text);
  if (text.starts_with("unix:")) {
    ep.is_unix = true;
    ep.path = std::string(text.substr(5));
    if (ep.path.empty() || ep.path.size() >= 108) {  // sockaddr_un::sun_path
      error = "--http: unix: needs a path shorter than 108 bytes";
      return std::nullopt;
    }
    return ep;
  }
  if (text.starts_with("http://")) text.remove_prefix(7);
  while (text.ends_with('/')) text.remove_suffix(1);
  std::string_view host = "127.0.0.1";
  std::string_view port = text;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = "--http: expected [IPv6]:PORT, got '" + ep.text + "'";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else if (const std::size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || port.empty() || ec != std::errc() || p != port.data() + port.size() || value == 0 ||
      value > 65535) {
    error = "--http: expected HOST:PORT or unix:/path, got '" + ep.text + "'";
    return std::nullopt;
  }
  ep.host = std::string(host);
  ep.port = std::string(port);
  return ep;
}

HttpResult http_get(const HttpEndpoint& endpoint, const std::string& target, std::chrono::milliseconds timeout) {
  net::io_context ioc;
  HttpResult result;
  auto run = [&]() -> net::awaitable<void> {
    if (endpoint.is_unix) {
      unix_stream stream(ioc);
      result = co_await get_on(stream, endpoint, target, timeout);
    } else {
      tcp_stream stream(ioc);
      result = co_await get_on(stream, endpoint, target, timeout);
    }
  };
  net::co_spawn(ioc, run(), net::detached);
  ioc.run();
  return result;
}

net::awaitable<StreamEnd> http_stream(const HttpEndpoint& endpoint, std::string target, StreamOptions options,
                                      std::function<bool(std::string_view)> on_data) {
  auto executor = co_await net::this_coro::executor;
  if (endpoint.is_unix) {
    unix_stream stream(executor);
    co_return co_await stream_on(stream, endpoint, std::move(target), options, on_data);
  }
  tcp_stream stream(executor);
  co_return co_await stream_on(stream, endpoint, std::move(target), options, on_data);
}

std::string api_error_message(std::string_view body) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    auto it = doc.FindMember("error");
    if (it != doc.MemberEnd() && it->value.IsString())
      return printable(std::string_view(it->value.GetString(), it->value.GetStringLength()));
  }
  return printable(body.substr(0, 200));
}

std::string url_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace tracecol::cli
