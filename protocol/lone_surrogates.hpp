#pragma once
// JavaScript strings may hold half a surrogate pair (a string cut inside an emoji: the
// OpenTelemetry JS SDK's attribute length limit does that), and JSON.stringify writes it
// as an escape ("\ud83c"). Strict JSON has no such character; our scanner refuses it (it
// would become invalid UTF-8), which would cost a whole OTLP request of hundreds of spans.

#include <cstddef>
#include <string>
#include <string_view>

namespace tracecol::protocol {

/** Whether json may hold a surrogate escape (a quick look before copying a body). */
bool may_hold_surrogate_escape(std::string_view json);

/**
 * Rewrites each escaped lone surrogate (a high one not followed by an escaped low one, or
 * a low one alone) as "\ufffd", U+FFFD REPLACEMENT CHARACTER: the same six bytes, in
 * place. A pair stays as it is. Returns how many were replaced.
 */
std::size_t replace_lone_surrogates(std::string& json);

}  // namespace tracecol::protocol
