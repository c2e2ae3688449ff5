// FreezableProxy: relays TCP connections from a port on 127.0.0.1 to another
// local port, until Freeze: the connections open then stop relaying in both
// directions but stay open, as a connection that died without a word does
// (a host gone, a NAT or load balancer that dropped the flow): neither end
// sees a FIN or a reset, and what it sends is never answered. Connections
// made after Freeze relay again. For keepalive tests.
//
// Relays on a thread of its own; Freeze and the destructor may be called
// from any thread.
#ifndef KEYBROKER_TESTS_TESTING_FREEZABLE_PROXY_H_
#define KEYBROKER_TESTS_TESTING_FREEZABLE_PROXY_H_

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace keybroker::testing {

class FreezableProxy {
 public:
  explicit FreezableProxy(int target_port) : target_port_(target_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = Loopback(0);
    socklen_t size = sizeof(address);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      ADD_FAILURE() << "proxy: cannot listen";
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Run(); });
  }

  ~FreezableProxy() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
    absl::MutexLock lock(&mu_);
    for (const Pair& pair : pairs_) {
      ::close(pair.client);
      ::close(pair.server);
    }
  }

  FreezableProxy(const FreezableProxy&) = delete;
  FreezableProxy& operator=(const FreezableProxy&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // The connections open now go silent, for good.
  void Freeze() {
    absl::MutexLock lock(&mu_);
    for (Pair& pair : pairs_) pair.frozen = true;
  }

 private:
  struct Pair {
    int client;
    int server;
    bool frozen = false;
  };

  static sockaddr_in Loopback(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    return address;
  }

  // Copies what `from` has to `to`; false when `from` closed or failed.
  static bool Relay(int from, int to) {
    char buffer[16384];
    ssize_t n = ::read(from, buffer, sizeof(buffer));
    if (n <= 0) return false;
    for (ssize_t sent = 0; sent < n;) {
      ssize_t wrote = ::write(to, buffer + sent, static_cast<size_t>(n - sent));
      if (wrote <= 0) return false;
      sent += wrote;
    }
    return true;
  }

  void Run() {
    while (!stop_) {
      std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}};
      {
        absl::MutexLock lock(&mu_);
        for (const Pair& pair : pairs_) {
          // A frozen pair is not read: its bytes wait in the kernel, unsent.
          if (pair.frozen) continue;
          fds.push_back({pair.client, POLLIN, 0});
          fds.push_back({pair.server, POLLIN, 0});
        }
      }
      if (::poll(fds.data(), fds.size(), /*timeout_ms=*/10) <= 0) continue;
      if (fds[0].revents & POLLIN) Accept();
      absl::MutexLock lock(&mu_);
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        for (auto it = pairs_.begin(); it != pairs_.end(); ++it) {
          if (it->frozen || (fds[i].fd != it->client && fds[i].fd != it->server)) continue;
          const bool from_client = fds[i].fd == it->client;
          if (!Relay(fds[i].fd, from_client ? it->server : it->client)) {
            ::close(it->client);
            ::close(it->server);
            pairs_.erase(it);
          }
          break;
        }
      }
    }
  }

  void Accept() {
    int client = ::accept(listen_fd_, nullptr, nullptr);
    if (client < 0) return;
    int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in target = Loopback(target_port_);
    if (::connect(server, reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0) {
      ::close(client);
      ::close(server);
      return;
    }
    absl::MutexLock lock(&mu_);
    pairs_.push_back({.client = client, .server = server});
  }

  const int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  std::vector<Pair> pairs_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // last: started once everything above is set
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_TESTING_FREEZABLE_PROXY_H_
