#pragma once
// One place for the Asio aliases every networked file uses.

#include <boost/asio.hpp>

namespace tracecol {
namespace net = boost::asio;
using local_stream = net::local::stream_protocol;
}  // namespace tracecol
