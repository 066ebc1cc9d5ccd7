// HTTP Basic authentication (RFC 7617) for pmx serve's --basic-auth-username/--password.
#pragma once

#include <string>
#include <string_view>

namespace pmx::serve {

/// Whether an Authorization header carries exactly these credentials. The comparison takes
/// the same time wherever the first difference is.
bool basic_auth_matches(std::string_view authorization, const std::string& user, const std::string& password);

}  // namespace pmx::serve
