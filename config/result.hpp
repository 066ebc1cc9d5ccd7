// Result<T>: a value or an error message; the small subset of std::expected that pure code needs.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace pmx {

/// Error carried by Result: a human-readable message naming what was wrong.
struct Error {
  std::string message;
};

/// A value or an Error. Swap for std::expected once the project builds as C++23.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const std::string& error() const { return std::get<1>(v_).message; }

 private:
  std::variant<T, Error> v_;
};

}  // namespace pmx
