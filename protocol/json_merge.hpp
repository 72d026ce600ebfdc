#pragma once
// Merging two JSON objects that were already validated by the decoder, as text: members
// of `update` replace or extend those of `base`; values are copied as the bytes they are.

#include <initializer_list>
#include <string>
#include <string_view>

namespace tracecol::protocol {

/** Both arguments must be validated JSON object texts; returns the merged object text. */
std::string merge_json_objects(std::string_view base, std::string_view update);

/**
 * Removes the top-level members of the validated object text `object` whose (decoded) key
 * is one of `keys`; the other members keep their bytes. Returns whether any was removed.
 * Costs one key scan of the object; rewrites (allocates) only when a member matches.
 */
bool remove_json_members(std::string& object, std::initializer_list<std::string_view> keys);

}  // namespace tracecol::protocol
