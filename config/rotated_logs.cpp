// Rotated file names: <stem>__YYYY-MM-DD_HH-mm-ss-SSS<.log>[.gz], the stamp in UTC.
#include "config/rotated_logs.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <system_error>

namespace pmx::config {
namespace {

using Clock = std::chrono::system_clock;

constexpr std::string_view kLog = ".log";
constexpr std::string_view kGz = ".gz";
constexpr std::string_view kSeparator = "__";
/// The stamp's shape: '9' is a digit, anything else itself.
constexpr std::string_view kStampShape = "9999-99-99_99-99-99-999";

struct Parts {
  std::string_view folder;  ///< up to and with the last '/'; empty for a bare name
  std::string_view stem;    ///< the file name before the stamp
  std::string_view suffix;  ///< ".log" or empty
};

Parts split(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  const std::size_t start = slash == std::string_view::npos ? 0 : slash + 1;
  Parts p{path.substr(0, start), path.substr(start), {}};
  if (p.stem.ends_with(kLog)) {
    p.stem.remove_suffix(kLog.size());
    p.suffix = kLog;
  }
  return p;
}

std::string stamp(Clock::time_point t) {
  using namespace std::chrono;
  const auto second = floor<seconds>(t);
  const long millis = static_cast<long>(duration_cast<milliseconds>(t - second).count());
  const std::time_t tt = static_cast<std::time_t>(second.time_since_epoch().count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  const int len = std::snprintf(buf, sizeof buf, "%04d-%02d-%02d_%02d-%02d-%02d-%03ld", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return std::string(buf, static_cast<std::size_t>(len));
}

}  // namespace

std::string rotated_name(const std::string& path, Clock::time_point t) {
  const Parts p = split(path);
  std::string out;
  out.reserve(path.size() + kSeparator.size() + kStampShape.size());
  out.append(p.folder).append(p.stem).append(kSeparator).append(stamp(t)).append(p.suffix);
  return out;
}

std::optional<Clock::time_point> rotated_stamp(std::string_view name) {
  if (name.ends_with(kGz)) name.remove_suffix(kGz.size());
  if (name.ends_with(kLog)) name.remove_suffix(kLog.size());
  if (name.size() < kStampShape.size() + kSeparator.size()) return std::nullopt;
  const std::string_view text = name.substr(name.size() - kStampShape.size());
  if (name.substr(name.size() - kStampShape.size() - kSeparator.size(), kSeparator.size()) != kSeparator) return std::nullopt;
  int field[7] = {};
  std::size_t f = 0;
  for (std::size_t i = 0; i < kStampShape.size(); ++i) {
    if (kStampShape[i] == '9') {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      field[f] = field[f] * 10 + (text[i] - '0');
    } else if (text[i] != kStampShape[i]) {
      return std::nullopt;
    } else {
      ++f;
    }
  }
  std::tm tm{};
  tm.tm_year = field[0] - 1900;
  tm.tm_mon = field[1] - 1;
  tm.tm_mday = field[2];
  tm.tm_hour = field[3];
  tm.tm_min = field[4];
  tm.tm_sec = field[5];
  const std::time_t seconds = ::timegm(&tm);
  if (seconds == static_cast<std::time_t>(-1)) return std::nullopt;
  return Clock::from_time_t(seconds) + std::chrono::milliseconds(field[6]);
}

bool is_rotated_of(const std::string& path, std::string_view name) {
  const Parts p = split(path);
  if (name.ends_with(kGz)) name.remove_suffix(kGz.size());
  if (!name.starts_with(p.stem)) return false;
  name.remove_prefix(p.stem.size());
  if (!name.starts_with(kSeparator)) return false;
  name.remove_prefix(kSeparator.size());
  if (name.size() != kStampShape.size() + p.suffix.size() || !name.ends_with(p.suffix)) return false;
  for (std::size_t i = 0; i < kStampShape.size(); ++i) {
    const bool digit = name[i] >= '0' && name[i] <= '9';
    if (kStampShape[i] == '9' ? !digit : name[i] != kStampShape[i]) return false;
  }
  return true;
}

std::vector<std::string> rotated_files(const std::string& path) {
  namespace fs = std::filesystem;
  const Parts p = split(path);
  const std::string folder = p.folder.empty() ? "." : std::string(p.folder);
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (is_rotated_of(path, name) && it->is_regular_file(type_ec)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  for (std::string& name : names) name = std::string(p.folder) + name;
  return names;
}

}  // namespace pmx::config
