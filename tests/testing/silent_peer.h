// SilentPeer: a TCP socket on 127.0.0.1 that never speaks. The kernel
// completes connections to it, so a client's call waits for its deadline;
// ConnectionsMade() tells a test whether anyone connected at all.
// Not safe for concurrent use.
#ifndef KEYBROKER_TESTS_TESTING_SILENT_PEER_H_
#define KEYBROKER_TESTS_TESTING_SILENT_PEER_H_

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace keybroker::testing {

class SilentPeer {
 public:
  SilentPeer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(address);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), size) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0 ||
        ::fcntl(fd_, F_SETFL, O_NONBLOCK) != 0) {
      ADD_FAILURE() << "cannot listen";
    }
    port_ = ntohs(address.sin_port);
  }
  ~SilentPeer() { ::close(fd_); }
  SilentPeer(const SilentPeer&) = delete;
  SilentPeer& operator=(const SilentPeer&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Returns how many connections were made since the last call (accepting
  // and closing them, which a client still connected sees as a reset).
  int ConnectionsMade() {
    int count = 0;
    for (int fd; (fd = ::accept(fd_, nullptr, nullptr)) >= 0; ++count) ::close(fd);
    return count;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_TESTING_SILENT_PEER_H_
