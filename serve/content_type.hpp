// The Content-Type of a served file, by its extension (what browsers need to render and run it).
#pragma once

#include <string_view>

namespace pmx::serve {

/// The media type for a file name ("app.js" gives "text/javascript; charset=utf-8");
/// "application/octet-stream" for an unknown extension or none.
std::string_view content_type(std::string_view file_name);

}  // namespace pmx::serve
