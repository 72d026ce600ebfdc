#pragma once
// Merging two JSON objects that were already validated by the decoder, as text: members
// of `update` replace or extend those of `base`; values are copied as the bytes they are.

#include <string>
#include <string_view>

namespace tracecol::protocol {

/** Both arguments must be validated JSON object texts; returns the merged object text. */
std::string merge_json_objects(std::string_view base, std::string_view update);

}  // namespace tracecol::protocol
