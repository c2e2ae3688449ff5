#include "tests/integration/http_get.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace keybroker::testing {
namespace {

// Closes the socket on every path out.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Waits until `fd` is ready for `events` or `deadline` passes.
bool WaitFor(int fd, short events, absl::Time deadline) {
  while (true) {
    int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return false;
    struct pollfd ready = {fd, events, 0};
    int n = ::poll(&ready, 1, static_cast<int>(ms));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

absl::Status Connect(const Socket& socket, const addrinfo& to, absl::Time deadline) {
  if (::connect(socket.fd(), to.ai_addr, to.ai_addrlen) != 0 && errno != EINPROGRESS) {
    return absl::UnavailableError(absl::StrCat("connect: errno ", errno));
  }
  if (!WaitFor(socket.fd(), POLLOUT, deadline)) return absl::DeadlineExceededError("connect");
  int error = 0;
  socklen_t size = sizeof(error);
  ::getsockopt(socket.fd(), SOL_SOCKET, SO_ERROR, &error, &size);
  if (error != 0) return absl::UnavailableError(absl::StrCat("connect: errno ", error));
  return absl::OkStatus();
}

absl::StatusOr<std::string> Exchange(const Socket& socket, const std::string& request,
                                     absl::Time deadline) {
  for (size_t sent = 0; sent < request.size();) {
    if (!WaitFor(socket.fd(), POLLOUT, deadline)) return absl::DeadlineExceededError("send");
    ssize_t n = ::send(socket.fd(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return absl::UnavailableError("send");
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string answer;
  char buffer[16384];
  while (true) {
    if (!WaitFor(socket.fd(), POLLIN, deadline)) return absl::DeadlineExceededError("receive");
    ssize_t n = ::recv(socket.fd(), buffer, sizeof(buffer), 0);
    if (n == 0) return answer;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return absl::UnavailableError("receive");
    if (n > 0) answer.append(buffer, static_cast<size_t>(n));
  }
}

absl::StatusOr<std::string> Dechunk(absl::string_view body) {
  std::string out;
  while (true) {
    size_t eol = body.find("\r\n");
    uint64_t size = 0;
    if (eol == absl::string_view::npos ||
        !absl::SimpleHexAtoi(body.substr(0, body.find_first_of(";\r")), &size) ||
        body.size() < eol + 2 + size) {
      return absl::DataLossError("malformed chunked body");
    }
    if (size == 0) return out;
    absl::StrAppend(&out, body.substr(eol + 2, size));
    body.remove_prefix(eol + 2 + size);
    if (!absl::ConsumePrefix(&body, "\r\n")) return absl::DataLossError("malformed chunk end");
  }
}

absl::StatusOr<HttpGetResponse> ParseAnswer(const std::string& answer) {
  size_t head_end = answer.find("\r\n\r\n");
  if (head_end == std::string::npos) return absl::DataLossError("no end of HTTP headers");
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::string_view(answer).substr(0, head_end), "\r\n");
  std::vector<absl::string_view> status_line = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
  HttpGetResponse response;
  if (status_line.size() < 2 || !absl::StartsWith(status_line[0], "HTTP/1.") ||
      !absl::SimpleAtoi(status_line[1], &response.status)) {
    return absl::DataLossError(absl::StrCat("not an HTTP status line: ", lines[0]));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos) return absl::DataLossError("malformed header");
    response.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  absl::string_view body = absl::string_view(answer).substr(head_end + 4);
  if (absl::AsciiStrToLower(response.headers["transfer-encoding"]) == "chunked") {
    absl::StatusOr<std::string> decoded = Dechunk(body);
    if (!decoded.ok()) return decoded.status();
    response.body = *std::move(decoded);
  } else {
    response.body = std::string(body);
  }
  response.headers.erase("transfer-encoding");
  return response;
}

}  // namespace

absl::StatusOr<HttpGetResponse> HttpGet(const std::string& address, const std::string& path,
                                        absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return absl::InvalidArgumentError("address is not host:port");
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), address.substr(colon + 1).c_str(), &hints, &found) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("not a numeric host:port: ", address));
  }
  Socket socket(::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  absl::Status connected = socket.fd() < 0 ? absl::InternalError("socket")
                                           : Connect(socket, *found, deadline);
  ::freeaddrinfo(found);
  if (!connected.ok()) return connected;
  absl::StatusOr<std::string> answer = Exchange(
      socket,
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: ", address,
                   "\r\nAccept: */*\r\nConnection: close\r\n\r\n"),
      deadline);
  if (!answer.ok()) return answer.status();
  return ParseAnswer(*answer);
}

}  // namespace keybroker::testing
