// TcpProxy: a man in the middle for fault tests. It listens on 127.0.0.1 (an
// ephemeral port), forwards each connection to a target, and on request
// misbehaves the way networks and broken intermediaries do: it stalls
// connections without closing them, puts garbage into what the server sends,
// cuts a response short, closes everything, or refuses new connections.
//
// Faults into the server→client direction act on the next read from the
// server that qualifies, on whichever connection it arrives; a test that
// sends one client through the proxy and then makes the server send
// something knows which stream gets it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace testing_support {

class TcpProxy {
 public:
  // How a fault treats the bytes it touches.
  enum class Framing {
    // As they are on the wire: garbage lands wherever the read began, a cut
    // falls mid-frame. The client's HTTP layer sees broken framing.
    kRaw,
    // Inside HTTP/1.1 chunked framing, kept well formed: only a read made of
    // whole chunks qualifies, so what the client's HTTP layer passes on to
    // the body's consumer is the garbage or the cut line itself.
    kHttpChunks,
  };

  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(std::string target_host, int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }

  // The connections open now move no more bytes either way and stay open: a
  // peer gone without a FIN or RST. Later connections forward as usual.
  void StallOpenConnections();
  // The next qualifying read from the server reaches the client with bytes
  // in front of it (kHttpChunks: as a chunk of their own).
  void InjectGarbage(std::string bytes, Framing framing);
  // Of the next qualifying read from the server only keep bytes are sent
  // (kHttpChunks: of its first chunk's data, then the body's last chunk, so
  // the response ends cleanly inside a line); then that connection closes.
  void Truncate(size_t keep, Framing framing);
  // Closes every connection now (stalled ones too).
  void CloseAll();
  // While refusing, new connections are closed as soon as they are accepted.
  void SetRefusing(bool refusing);
  // While holding, what clients send waits in the proxy's sockets, on every
  // connection (new ones too), and what the server sends still passes: open
  // watch streams go on while each new request hangs unanswered, as behind a
  // proxy that stopped forwarding upstream. Released, the held bytes go on.
  void SetHoldingRequests(bool hold);

  int64_t accepted() const;
  // Garbage injections and truncations carried out.
  int64_t faults() const;
  // Connections a fault was carried out on that are still open: a client
  // that cannot use a stream any more should close it, not leave it hanging.
  int open_faulted() const;

 private:
  struct Fault {
    enum class Kind { kGarbage, kTruncate } kind;
    Framing framing;
    std::string bytes;
    size_t keep = 0;
  };
  struct Conn {
    int client = -1;
    int server = -1;
    bool stalled = false;
    bool closed = false;
    bool faulted = false;
    std::thread thread;
  };

  TcpProxy(int listen_fd, int port, std::string host, int target_port);
  void AcceptLoop();
  void Pump(Conn* c);
  // Applies an armed fault to data read from the server; true: close after.
  bool ApplyFault(Conn* c, std::string& data);
  void CloseLocked(Conn* c);

  const int listen_fd_;
  const int port_;
  const std::string host_;
  const int target_port_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // a stalled connection waits on it for its end
  bool stopping_ = false;
  bool refusing_ = false;
  bool holding_ = false;
  std::optional<Fault> fault_;
  int64_t accepted_ = 0;
  int64_t faults_ = 0;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::thread acceptor_;
};

}  // namespace testing_support
