// pmx serve: a folder served over HTTP by pmx-serve, run by the real pmxd as an app, and asked
// over raw sockets (so that what a client may send, `..` included, reaches it unchanged).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <fstream>

#include "tests/integration/harness.hpp"

using namespace pmx::itest;

namespace {

/// Sends request as it is to 127.0.0.1:port and returns everything read until the server closes
/// (status line, headers and body); "" when nothing could be exchanged.
std::string http_exchange_raw(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  const timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char buf[65536];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) response.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return response;
}

/// GET (or another method) of target over HTTP/1.0 with extra header lines.
std::string request(int port, const std::string& target, const std::string& headers = "",
                    const std::string& method = "GET") {
  return http_exchange_raw(port, method + " " + target + " HTTP/1.0\r\nHost: localhost\r\n" + headers + "\r\n");
}

std::string status_line(const std::string& response) { return response.substr(0, response.find("\r\n")); }

std::string body_of(const std::string& response) {
  const auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

/// The value of a response header, "" without it.
std::string header_of(const std::string& response, const std::string& name) {
  const std::string head = response.substr(0, response.find("\r\n\r\n"));
  const auto at = lower(head).find("\r\n" + lower(name) + ": ");
  if (at == std::string::npos) return "";
  const auto begin = at + 4 + name.size();
  return head.substr(begin, head.find("\r\n", begin) - begin);
}

/// A site folder in the home: index.html, a stylesheet, a 100 KB text file, a sub-folder with
/// its own index, a link to a file outside, and a secret beside the folder.
struct Site {
  std::string dir;
  std::string big;
  explicit Site(const TempHome& home) : dir(home.scratch("site")) {
    ::mkdir(dir.c_str(), 0755);
    ::mkdir((dir + "/docs").c_str(), 0755);
    std::ofstream(dir + "/index.html") << "<h1>home</h1>\n";
    std::ofstream(dir + "/style.css") << "body{}\n";
    std::ofstream(dir + "/docs/index.html") << "<h1>docs</h1>\n";
    for (int i = 0; i < 20000; ++i) big += std::to_string(i % 10) + "abcd\n";
    std::ofstream(dir + "/big.txt") << big;
    std::ofstream(home.scratch("secret.txt")) << "secret\n";
    std::ofstream(home.scratch("shared.txt")) << "shared through a link\n";
    ::symlink(home.scratch("shared.txt").c_str(), (dir + "/linked.txt").c_str());
  }
};

/// Starts pmx serve with args and waits until the port answers.
void serve(Session& s, int port, std::vector<std::string> args) {
  args.insert(args.begin(), "serve");
  REQUIRE_EXIT(s.pmx(args), 0);
  REQUIRE(wait_until([&] { return !http_exchange_raw(port, "GET / HTTP/1.0\r\n\r\n").empty(); }, 10s));
}

}  // namespace

TEST_CASE("pmx serve runs a folder's static server as an app named as PM2 names it", "[integration][serve]") {
  Session s;
  Site site(s.home);
  const int port = free_port();
  serve(s, port, {site.dir, std::to_string(port)});
  const std::string name = "static-page-server-" + std::to_string(port);
  CHECK(s.wait_status(name, "online"));
  const json env = s.app(name)["pm2_env"];
  CHECK(env["args"] == json::array({site.dir, std::to_string(port)}));

  const std::string home = request(port, "/");
  CHECK(status_line(home) == "HTTP/1.0 200 OK");
  CHECK(body_of(home) == "<h1>home</h1>\n");
  CHECK(header_of(home, "Content-Type") == "text/html; charset=utf-8");
  CHECK(header_of(request(port, "/style.css"), "Content-Type") == "text/css; charset=utf-8");
  // A folder: its index, and without the slash a redirect to it, as nginx does.
  CHECK(body_of(request(port, "/docs/")) == "<h1>docs</h1>\n");
  const std::string docs = request(port, "/docs?x=1");
  CHECK(status_line(docs) == "HTTP/1.0 301 Moved Permanently");
  CHECK(header_of(docs, "Location") == "/docs/");
  // HEAD: the headers of GET, no body.
  const std::string head = request(port, "/big.txt", "", "HEAD");
  CHECK(status_line(head) == "HTTP/1.0 200 OK");
  CHECK(header_of(head, "Content-Length") == std::to_string(site.big.size()));
  CHECK(body_of(head).empty());
  CHECK(body_of(request(port, "/big.txt")) == site.big);
  CHECK(status_line(request(port, "/missing.html")) == "HTTP/1.0 404 Not Found");
  const std::string post = request(port, "/", "", "POST");
  CHECK(status_line(post) == "HTTP/1.0 405 Method Not Allowed");
  CHECK(header_of(post, "Allow") == "GET, HEAD");
  // Links are followed, as nginx does by default (docs/cli.md).
  CHECK(body_of(request(port, "/linked.txt")) == "shared through a link\n");
  // It is an app: logged, and restarted when it dies.
  CHECK(wait_until([&] { return mentions(read_file(s.home.path() + "/logs/" + name + "-out.log").value_or(""),
                                         "serving " + site.dir); }, 5s));
  const pid_t pid = s.wait_pid(name);
  REQUIRE(pid > 0);
  ::kill(pid, SIGKILL);
  CHECK(wait_until([&] { return s.app(name)["pm2_env"].value("restart_time", 0) == 1 && s.status(name) == "online"; }, 10s));
  CHECK(wait_until([&] { return body_of(request(port, "/")) == "<h1>home</h1>\n"; }, 10s));
}

TEST_CASE("an ecosystem file's script: serve runs the static server, configured by PM2_SERVE_* as under PM2",
          "[integration][serve][pm2]") {
  Session s;
  Site site(s.home);
  const int port = free_port();
  // The shape PM2's documentation gives, the folder relative to the file's own.
  const std::string file = s.home.scratch("ecosystem.config.js");
  std::ofstream(file) << "module.exports = { apps: [{ name: 'static', script: 'serve', env: {\n"
                      << "  PM2_SERVE_PATH: './site', PM2_SERVE_PORT: " << port << ", PM2_SERVE_SPA: 'true' } }] };\n";
  REQUIRE_EXIT(s.pmx({"start", file}), 0);
  CHECK(s.wait_status("static", "online"));
  REQUIRE(wait_until([&] { return !http_exchange_raw(port, "GET / HTTP/1.0\r\n\r\n").empty(); }, 10s));
  CHECK(body_of(request(port, "/")) == "<h1>home</h1>\n");
  CHECK(body_of(request(port, "/style.css")) == "body{}\n");
  CHECK(body_of(request(port, "/a/route/of/the/app")) == "<h1>home</h1>\n");  // PM2_SERVE_SPA
  // The script is pmx-serve, not a file named serve beside the ecosystem file.
  CHECK(mentions(s.app("static")["pm2_env"].value("pm_exec_path", ""), "pmx-serve"));
}

TEST_CASE("pmx serve never answers with a file outside its folder", "[integration][serve][security]") {
  Session s;
  Site site(s.home);
  const int port = free_port();
  serve(s, port, {site.dir, std::to_string(port)});
  for (const char* escape : {"/../secret.txt", "/docs/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt",
                             "/docs/%2e%2e/%2e%2e/secret.txt", "/..%2f..%2fsecret.txt", "/%00", "secret.txt",
                             "/big.txt%00.html"}) {
    INFO(escape);
    const std::string r = request(port, escape);
    CHECK(status_line(r) == "HTTP/1.0 400 Bad Request");
    CHECK_FALSE(mentions(r, "secret\n"));
  }
  // What is no request at all is dropped, and the server serves on.
  CHECK(http_exchange_raw(port, std::string(20000, 'A') + "\r\n\r\n").find("200 OK") == std::string::npos);
  CHECK(http_exchange_raw(port, "GET / HTTP/1.0\r\nX: " + std::string(40000, 'b') + "\r\n\r\n").find("200 OK") == std::string::npos);
  CHECK(status_line(request(port, "/")) == "HTTP/1.0 200 OK");
}

TEST_CASE("pmx serve answers ranges, conditional GETs and kept-alive connections", "[integration][serve]") {
  Session s;
  Site site(s.home);
  const int port = free_port();
  serve(s, port, {site.dir, std::to_string(port)});
  const std::string part = request(port, "/big.txt", "Range: bytes=6-17\r\n");
  CHECK(status_line(part) == "HTTP/1.0 206 Partial Content");
  CHECK(header_of(part, "Content-Range") == "bytes 6-17/" + std::to_string(site.big.size()));
  CHECK(body_of(part) == site.big.substr(6, 12));
  CHECK(body_of(request(port, "/big.txt", "Range: bytes=-5\r\n")) == site.big.substr(site.big.size() - 5));
  const std::string beyond = request(port, "/big.txt", "Range: bytes=999999-\r\n");
  CHECK(status_line(beyond) == "HTTP/1.0 416 Range Not Satisfiable");
  CHECK(header_of(beyond, "Content-Range") == "bytes */" + std::to_string(site.big.size()));

  const std::string first = request(port, "/style.css");
  const std::string tag = header_of(first, "ETag");
  REQUIRE_FALSE(tag.empty());
  const std::string again = request(port, "/style.css", "If-None-Match: " + tag + "\r\n");
  CHECK(status_line(again) == "HTTP/1.0 304 Not Modified");
  CHECK(body_of(again).empty());
  CHECK(status_line(request(port, "/style.css", "If-Modified-Since: " + header_of(first, "Last-Modified") + "\r\n")) ==
        "HTTP/1.0 304 Not Modified");
  // A changed file has another tag.
  std::ofstream(site.dir + "/style.css") << "body{color:red}\n";
  const std::string changed = request(port, "/style.css", "If-None-Match: " + tag + "\r\n");
  CHECK(status_line(changed) == "HTTP/1.0 200 OK");
  CHECK(body_of(changed) == "body{color:red}\n");

  // HTTP/1.1: two requests on one connection, both answered, then the server closes on request.
  const std::string both = http_exchange_raw(port, "GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n"
                                          "GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(mentions(both, "body{color:red}\n"));
  CHECK(mentions(both, "<h1>home</h1>\n"));
}

TEST_CASE("pmx serve --spa answers unknown paths with index.html, and Basic auth guards it", "[integration][serve]") {
  Session s;
  Site site(s.home);
  const int port = free_port();
  serve(s, port, {site.dir, "--port", std::to_string(port), "--spa", "--name", "spa", "--basic-auth-username",
                  "ann", "--basic-auth-password", "s3cret"});
  CHECK(s.wait_status("spa", "online"));
  const std::string denied = request(port, "/users/42");
  CHECK(status_line(denied) == "HTTP/1.0 401 Unauthorized");
  CHECK(mentions(header_of(denied, "WWW-Authenticate"), "Basic"));
  CHECK(status_line(request(port, "/", "Authorization: Basic YW5uOndyb25n\r\n")) == "HTTP/1.0 401 Unauthorized");
  // ann:s3cret
  const std::string auth = "Authorization: Basic YW5uOnMzY3JldA==\r\n";
  const std::string routed = request(port, "/users/42", auth);
  CHECK(status_line(routed) == "HTTP/1.0 200 OK");
  CHECK(body_of(routed) == "<h1>home</h1>\n");
  CHECK(body_of(request(port, "/style.css", auth)) == "body{}\n");
  // The password is in the app's environment, not in its arguments (ps shows those to anyone).
  const json app = s.app("spa");
  CHECK_FALSE(mentions(app["pm2_env"]["args"].dump(), "s3cret"));
}

TEST_CASE("pmx serve refuses a folder that does not exist and a port out of range", "[integration][serve]") {
  Session s;
  const auto missing = s.pmx({"serve", s.home.scratch("nowhere"), "8080"});
  CHECK(missing.exit_code == 2);
  CHECK(mentions(missing.err, "is not a folder"));
  const auto port = s.pmx({"serve", s.home.path(), "70000"});
  CHECK(port.exit_code == 2);
  CHECK(mentions(port.err, "port '70000' is not a number from 1 to 65535"));
  CHECK(s.jlist().empty());
}
