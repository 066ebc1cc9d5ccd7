// The HTTP side of pmx-serve: one Connection per client, reading a request, answering it from
// the folder, and reading the next while the client keeps the connection alive.
#include "serve/static_server.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <iostream>
#include <vector>

#include "serve/basic_auth.hpp"
#include "serve/byte_range.hpp"
#include "serve/content_type.hpp"
#include "serve/request_path.hpp"
#include "serve/validators.hpp"

namespace pmx::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

struct StaticServer::Shared {
  ServeOptions options;
  std::size_t connections = 0;
  bool stopped = false;
};

namespace {

/// How long a client may take to send a request, or to take a part of the answer.
constexpr auto kDeadline = 30s;
/// The largest request header read; a larger one is answered 431 by closing.
constexpr std::uint32_t kHeaderLimit = 16 * 1024;
/// A file is sent in parts of this size.
constexpr std::size_t kChunk = 64 * 1024;

/// An open file descriptor, closed with its owner.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

/// A regular file opened for serving (never a FIFO or device: O_NONBLOCK, then fstat).
struct OpenFile {
  Fd fd;
  struct stat st {};
  std::string path;
};

std::optional<OpenFile> open_regular(const std::string& path) {
  OpenFile f;
  f.fd = Fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (f.fd.get() < 0 || ::fstat(f.fd.get(), &f.st) != 0 || !S_ISREG(f.st.st_mode)) return std::nullopt;
  f.path = path;
  return f;
}

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<StaticServer::Shared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)) {
    ++shared_->connections;
  }
  ~Connection() { --shared_->connections; }

  void read_request() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(0);  // GET and HEAD have no body
    stream_.expires_after(kDeadline);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_request(ec); });
  }

 private:
  void on_request(beast::error_code ec) {
    if (ec) return close();  // the client left, timed out, or sent what is no request
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive() && !shared_->stopped;
    version_ = req.version();
    head_ = req.method() == http::verb::head;
    if (req.method() != http::verb::get && !head_) {
      return send_simple(http::status::method_not_allowed, "GET and HEAD only\n", {{"Allow", "GET, HEAD"}});
    }
    const ServeOptions& o = shared_->options;
    if (!o.user.empty() && !basic_auth_matches(req[http::field::authorization], o.user, o.password)) {
      return send_simple(http::status::unauthorized, "authentication required\n",
                         {{"WWW-Authenticate", "Basic realm=\"pmx serve\", charset=\"UTF-8\""}});
    }
    const auto path = request_path(req.target());
    if (!path) return send_simple(http::status::bad_request, "bad path\n");
    const std::string full = path->relative.empty() ? o.root : o.root + "/" + path->relative;
    struct stat st {};
    if (::stat(full.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      if (!path->trailing_slash) {
        // As nginx: /docs is /docs/, so the folder's relative links resolve.
        std::string location(req.target().substr(0, req.target().find_first_of("?#")));
        return send_simple(http::status::moved_permanently, "", {{"Location", location + "/"}});
      }
      if (auto index = open_regular(full + "/index.html")) return send_file(std::move(*index), req);
    } else if (auto file = open_regular(full)) {
      return send_file(std::move(*file), req);
    }
    if (o.spa) {
      const auto home = request_path(o.homepage);
      if (home) {
        if (auto page = open_regular(o.root + "/" + home->relative)) return send_file(std::move(*page), req);
      }
    }
    send_simple(http::status::not_found, "not found\n");
  }

  void send_simple(http::status status, std::string body,
                   std::initializer_list<std::pair<const char*, std::string>> fields = {}) {
    auto res = std::make_shared<http::response<http::string_body>>(status, version_);
    res->set(http::field::server, "pmx-serve");
    res->set(http::field::content_type, "text/plain; charset=utf-8");
    for (const auto& [name, value] : fields) res->set(name, value);
    res->body() = head_ ? std::string{} : std::move(body);
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    stream_.expires_after(kDeadline);
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      self->after_response(ec);
    });
  }

  void send_file(OpenFile file, const http::request<http::empty_body>& req) {
    const std::string tag = entity_tag(file.st);
    const time_t modified = file.st.st_mtim.tv_sec;
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::ok, version_);
    res->set(http::field::server, "pmx-serve");
    res->set(http::field::etag, tag);
    res->set(http::field::last_modified, http_date(modified));
    res->set(http::field::accept_ranges, "bytes");
    res->keep_alive(keep_alive_);
    if (not_modified(req[http::field::if_none_match], req[http::field::if_modified_since], tag, modified)) {
      res->result(http::status::not_modified);
      return write_header(res);
    }
    const auto size = static_cast<std::uint64_t>(file.st.st_size);
    res->set(http::field::content_type, content_type(file.path));
    ByteRange range = byte_range(req[http::field::range], size);
    if (range.kind == ByteRange::Kind::Unsatisfiable) {
      res->result(http::status::range_not_satisfiable);
      res->set(http::field::content_range, "bytes */" + std::to_string(size));
      res->content_length(0);
      return write_header(res);
    }
    std::uint64_t first = 0, length = size;
    if (range.kind == ByteRange::Kind::Part) {
      res->result(http::status::partial_content);
      res->set(http::field::content_range,
               "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" + std::to_string(size));
      first = range.first;
      length = range.last - range.first + 1;
    }
    res->content_length(length);
    file_ = std::move(file.fd);
    offset_ = first;
    remaining_ = head_ ? 0 : length;
    write_header(res);
  }

  /// The header, then the file's part that send_file chose (none for HEAD, 304 and 416).
  void write_header(const std::shared_ptr<http::response<http::empty_body>>& res) {
    stream_.expires_after(kDeadline);
    auto serializer = std::make_shared<http::response_serializer<http::empty_body>>(*res);
    http::async_write_header(stream_, *serializer,
                             [self = shared_from_this(), res, serializer](beast::error_code ec, std::size_t) {
                               if (ec) return self->close();
                               self->send_part();
                             });
  }

  /// The next part of the file, then the next, until remaining_ is sent.
  void send_part() {
    if (remaining_ == 0) {
      file_.reset();
      return after_response({});
    }
    chunk_.resize(kChunk);
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, kChunk));
    const ssize_t n = ::pread(file_.get(), chunk_.data(), want, static_cast<off_t>(offset_));
    if (n <= 0) return close();  // the file shrank under us: the promised length cannot be kept
    offset_ += static_cast<std::uint64_t>(n);
    remaining_ -= static_cast<std::uint64_t>(n);
    stream_.expires_after(kDeadline);
    asio::async_write(stream_, asio::buffer(chunk_.data(), static_cast<std::size_t>(n)),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->close();
                        self->send_part();
                      });
  }

  void after_response(beast::error_code ec) {
    if (ec || !keep_alive_) return close();
    read_request();
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  std::shared_ptr<StaticServer::Shared> shared_;
  beast::flat_buffer buffer_{kHeaderLimit};
  std::optional<http::request_parser<http::empty_body>> parser_;
  bool keep_alive_ = false;
  bool head_ = false;
  unsigned version_ = 11;
  Fd file_;
  std::uint64_t offset_ = 0;
  std::uint64_t remaining_ = 0;
  std::vector<char> chunk_;
};

/// The acceptor on port, IPv6 and IPv4 both where the machine has IPv6.
tcp::acceptor listening(asio::io_context& io, int port) {
  tcp::acceptor acceptor(io);
  beast::error_code ec;
  acceptor.open(tcp::v6(), ec);
  if (!ec) {
    acceptor.set_option(asio::ip::v6_only(false), ec);
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind({tcp::v6(), static_cast<unsigned short>(port)}, ec);
    if (!ec) {
      acceptor.listen(asio::socket_base::max_listen_connections);
      return acceptor;
    }
    acceptor.close();
  }
  acceptor.open(tcp::v4());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind({tcp::v4(), static_cast<unsigned short>(port)});
  acceptor.listen(asio::socket_base::max_listen_connections);
  return acceptor;
}

}  // namespace

StaticServer::StaticServer(asio::io_context& io, ServeOptions options)
    : acceptor_(listening(io, options.port)), shared_(std::make_shared<Shared>()) {
  shared_->options = std::move(options);
}

StaticServer::~StaticServer() = default;

void StaticServer::start() { accept(); }

void StaticServer::stop() {
  shared_->stopped = true;
  beast::error_code ignored;
  acceptor_.close(ignored);
}

void StaticServer::accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || shared_->stopped) return;
    if (ec) {
      // Out of descriptors (EMFILE) or a connection reset before it was taken: try again
      // shortly rather than spin.
      auto timer = std::make_shared<asio::steady_timer>(acceptor_.get_executor(), 100ms);
      timer->async_wait([this, timer](beast::error_code) {
        if (!shared_->stopped) accept();
      });
      return;
    }
    if (shared_->connections < kMaxConnections) {
      // The header and the file go out as two writes: without TCP_NODELAY the second waits
      // for the client's delayed ACK of the first (40 ms a response).
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Connection>(std::move(socket), shared_)->read_request();
    }  // else: the socket closes here, at once
    accept();
  });
}

}  // namespace pmx::serve
