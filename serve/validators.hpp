// Conditional GETs: the entity tag and Last-Modified of a file, and whether a request's
// If-None-Match / If-Modified-Since let the answer be 304 Not Modified.
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>

namespace pmx::serve {

/// A strong tag from the file's inode, size and modification time (nanoseconds): it changes
/// whenever the content may have.
std::string entity_tag(const struct stat& st);

/// The modification time as an HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT").
std::string http_date(time_t when);

/// Whether the client's copy is current: If-None-Match ("*" or a list holding the tag, weak
/// comparison) when given, else If-Modified-Since at or after the modification second.
bool not_modified(std::string_view if_none_match, std::string_view if_modified_since, const std::string& tag,
                  time_t modified);

}  // namespace pmx::serve
