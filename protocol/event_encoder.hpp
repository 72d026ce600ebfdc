#pragma once
// Events back to wire lines (PROTOCOL.md): what a client writes to the socket, and the
// inverse the fuzz targets hold the decoder to (decode, encode, decode, encode: the two
// lines are the same bytes).

#include <string>

#include "protocol/event.hpp"

namespace tracecol::protocol {

/**
 * Appends ev as one wire line, without the '\n': "type" first, then only the members the
 * event carries (a span's `fields` bits say which), times as decimal seconds with nine
 * fraction digits (read back exactly), inputs / outputs / metadata as their stored bytes.
 */
void append_event_line(std::string& out, const Event& ev);

}  // namespace tracecol::protocol
