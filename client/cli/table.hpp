#pragma once
// Aligned text tables for tracectl ls, and the /api/traces page turned into one.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tracecol::cli {

/**
 * Left-aligned columns two spaces apart, widths in characters (UTF-8 aware), the last
 * column unpadded, no trailing spaces. Cells must already be printable (see printable()).
 */
std::string format_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

/** Text safe for a terminal: control characters (C0, DEL, C1) shown as \xNN, \n, \t. */
std::string printable(std::string_view text);

/** "142ms", "1.5ms", "12.3s", "-" for null: a compact duration from the API's duration_ms text. */
std::string format_duration_ms(std::string_view ms_text);

/** "2024-11-25 02:00:00.005" (UTC) from epoch seconds text; "-" for empty/unreadable. */
std::string format_epoch(std::string_view seconds_text);

/**
 * The table of a GET /api/traces body: TRACE_ID STARTED DURATION SPANS ERRORS STATUS RUN_ID
 * NAME. more is set when the page has a next_cursor (more traces match). nullopt (error
 * set) when the body is not such a page.
 */
std::optional<std::string> traces_table(std::string_view body, std::string& error, bool& more);

}  // namespace tracecol::cli
