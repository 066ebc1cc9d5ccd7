// Time stamps compiled into pieces once, and JSON strings that stay valid whatever the bytes.
#include "config/log_format.hpp"
#include "config/utf8.hpp"

#include <array>

namespace pmx::config {
namespace {

constexpr std::array<const char*, 12> kMonthNames = {"January", "February", "March",     "April",
                                                     "May",     "June",     "July",      "August",
                                                     "September", "October", "November", "December"};
constexpr std::array<const char*, 7> kWeekdayNames = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                      "Thursday", "Friday", "Saturday"};

// n as at least `width` digits, zero-padded (n >= 0 here: fields of struct tm). By hand, not
// snprintf: it runs for every field of every line stamped.
void append_number(std::string& out, long n, int width) {
  char buf[24];
  char* end = buf + sizeof buf;
  char* p = end;
  unsigned long u = n < 0 ? 0 : static_cast<unsigned long>(n);
  do {
    *--p = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0 && p > buf);
  while (end - p < width && p > buf) *--p = '0';
  out.append(p, static_cast<std::size_t>(end - p));
}

// "+01:00" (colon) or "+0100"; tm_gmtoff is seconds east of UTC.
void append_offset(std::string& out, long gmtoff, bool colon) {
  out += gmtoff < 0 ? '-' : '+';
  const long minutes = (gmtoff < 0 ? -gmtoff : gmtoff) / 60;
  append_number(out, minutes / 60, 2);
  if (colon) out += ':';
  append_number(out, minutes % 60, 2);
}

}  // namespace

Result<DateFormat> DateFormat::compile(std::string_view pattern) {
  if (pattern.empty()) return Error{"empty date format (for ISO 8601 use time: true)"};
  // Longest first: at each position the longest token that matches wins, as in dayjs.
  static constexpr std::pair<std::string_view, Token> kTokens[] = {
      {"YYYY", Token::Year4},       {"MMMM", Token::MonthLong},    {"dddd", Token::WeekdayLong},
      {"MMM", Token::MonthShort},   {"ddd", Token::WeekdayShort},  {"SSS", Token::Millis},
      {"YY", Token::Year2},         {"MM", Token::Month2},         {"DD", Token::Day2},
      {"dd", Token::WeekdayMin},    {"HH", Token::Hour2},          {"hh", Token::Hour12_2},
      {"mm", Token::Minute2},       {"ss", Token::Second2},        {"ZZ", Token::OffsetBasic},
      {"M", Token::Month},          {"D", Token::Day},             {"d", Token::Weekday},
      {"H", Token::Hour},           {"h", Token::Hour12},          {"m", Token::Minute},
      {"s", Token::Second},         {"Z", Token::Offset},          {"A", Token::Upper},
      {"a", Token::Lower},
  };
  DateFormat f;
  auto literal = [&](std::string_view text) {
    if (text.empty()) return;
    if (f.pieces_.empty() || f.pieces_.back().token != Token::Literal) f.pieces_.push_back({Token::Literal, ""});
    f.pieces_.back().text += text;
  };
  std::size_t i = 0;
  while (i < pattern.size()) {
    if (pattern[i] == '[') {
      const std::size_t close = pattern.find(']', i + 1);
      if (close == std::string_view::npos) {
        return Error{"unterminated '[' at position " + std::to_string(i + 1) + " of date format '" +
                     std::string(pattern) + "' (literal text is written [like this])"};
      }
      literal(pattern.substr(i + 1, close - i - 1));
      i = close + 1;
      continue;
    }
    bool matched = false;
    for (const auto& [text, token] : kTokens) {
      if (pattern.substr(i, text.size()) == text) {
        f.pieces_.push_back({token, ""});
        i += text.size();
        matched = true;
        break;
      }
    }
    if (!matched) literal(pattern.substr(i++, 1));
  }
  return f;
}

void DateFormat::append(std::string& out, std::chrono::system_clock::time_point t) const {
  using namespace std::chrono;
  const auto second = floor<seconds>(t);
  const long millis = static_cast<long>(duration_cast<milliseconds>(t - second).count());
  const std::int64_t s = second.time_since_epoch().count();
  if (s != cached_second_) {
    const std::time_t tt = static_cast<std::time_t>(s);
    if (localtime_r(&tt, &cached_tm_) == nullptr) cached_tm_ = std::tm{};
    cached_second_ = s;
  }
  const std::tm& tm = cached_tm_;
  const int hour12 = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;
  const std::size_t month = static_cast<std::size_t>(tm.tm_mon) % 12;
  const std::size_t weekday = static_cast<std::size_t>(tm.tm_wday) % 7;
  for (const Piece& p : pieces_) {
    switch (p.token) {
      case Token::Literal: out += p.text; break;
      case Token::Year4: append_number(out, tm.tm_year + 1900L, 4); break;
      case Token::Year2: append_number(out, (tm.tm_year + 1900L) % 100, 2); break;
      case Token::Month2: append_number(out, tm.tm_mon + 1, 2); break;
      case Token::Month: append_number(out, tm.tm_mon + 1, 1); break;
      case Token::MonthShort: out.append(kMonthNames[month], 3); break;
      case Token::MonthLong: out += kMonthNames[month]; break;
      case Token::Day2: append_number(out, tm.tm_mday, 2); break;
      case Token::Day: append_number(out, tm.tm_mday, 1); break;
      case Token::Weekday: append_number(out, tm.tm_wday, 1); break;
      case Token::WeekdayMin: out.append(kWeekdayNames[weekday], 2); break;
      case Token::WeekdayShort: out.append(kWeekdayNames[weekday], 3); break;
      case Token::WeekdayLong: out += kWeekdayNames[weekday]; break;
      case Token::Hour2: append_number(out, tm.tm_hour, 2); break;
      case Token::Hour: append_number(out, tm.tm_hour, 1); break;
      case Token::Hour12_2: append_number(out, hour12, 2); break;
      case Token::Hour12: append_number(out, hour12, 1); break;
      case Token::Minute2: append_number(out, tm.tm_min, 2); break;
      case Token::Minute: append_number(out, tm.tm_min, 1); break;
      case Token::Second2: append_number(out, tm.tm_sec, 2); break;
      case Token::Second: append_number(out, tm.tm_sec, 1); break;
      case Token::Millis: append_number(out, millis, 3); break;
      case Token::Offset: append_offset(out, tm.tm_gmtoff, true); break;
      case Token::OffsetBasic: append_offset(out, tm.tm_gmtoff, false); break;
      case Token::Upper: out += tm.tm_hour < 12 ? "AM" : "PM"; break;
      case Token::Lower: out += tm.tm_hour < 12 ? "am" : "pm"; break;
    }
  }
}

std::string DateFormat::format(std::chrono::system_clock::time_point t) const {
  std::string out;
  append(out, t);
  return out;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  std::size_t run = 0;  // start of the bytes copied as they are
  std::size_t i = 0;
  auto flush = [&] { out.append(s.data() + run, i - run); };
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    std::size_t len = 1;
    if (c >= 0x80 && utf8_sequence(s, i, len)) {
      i += len;
      continue;
    }
    flush();
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += "\\ufffd";
        }
    }
    i += len;
    run = i;
  }
  flush();
  out += '"';
}

}  // namespace pmx::config
