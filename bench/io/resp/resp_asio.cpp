// resp-asio -- the RESP server of W8 on standalone asio: C++20 coroutines
// (co_spawn + use_awaitable), one io_context on one thread. The commands of
// uvrun-resp-server: PING, ECHO, GET, SET, DEL, EXISTS, INCR, QUIT, CONFIG GET.
//
//   resp-asio [--host HOST] [--port PORT]
#include <asio.hpp>

#include <charconv>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <strings.h>
#include <unordered_map>
#include <vector>

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using Store = std::unordered_map<std::string, std::string>;

namespace {

constexpr long long max_bulk = 512ll << 20;
constexpr long long max_args = 1024;
constexpr size_t max_inline = 64 << 10;

bool is(std::string_view a, std::string_view name) {
  return a.size() == name.size() && strncasecmp(a.data(), name.data(), a.size()) == 0;
}

void bulk(std::string &out, std::string_view v) {
  out += '$';
  out += std::to_string(v.size());
  out += "\r\n";
  out += v;
  out += "\r\n";
}

void integer(std::string &out, long long v) {
  out += ':';
  out += std::to_string(v);
  out += "\r\n";
}

// Runs one command, its reply appended to out; true when the connection must end.
bool run(Store &db, const std::vector<std::string_view> &a, std::string &out) {
  if (a.empty()) return false;
  if (is(a[0], "ping") && a.size() <= 2) {
    if (a.size() == 2) bulk(out, a[1]);
    else out += "+PONG\r\n";
  } else if (is(a[0], "echo") && a.size() == 2) {
    bulk(out, a[1]);
  } else if (is(a[0], "get") && a.size() == 2) {
    auto it = db.find(std::string(a[1]));
    if (it != db.end()) bulk(out, it->second);
    else out += "$-1\r\n";
  } else if (is(a[0], "set") && a.size() == 3) {
    db.insert_or_assign(std::string(a[1]), std::string(a[2]));
    out += "+OK\r\n";
  } else if ((is(a[0], "del") || is(a[0], "exists")) && a.size() >= 2) {
    long long n = 0;
    for (size_t i = 1; i < a.size(); i++)
      n += is(a[0], "del") ? db.erase(std::string(a[i])) : db.count(std::string(a[i]));
    integer(out, n);
  } else if (is(a[0], "incr") && a.size() == 2) {
    std::string &v = db[std::string(a[1])];
    long long n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (!v.empty() && (ec != std::errc() || end != v.data() + v.size() || n == LLONG_MAX)) {
      out += "-ERR value is not an integer or out of range\r\n";
    } else {
      v = std::to_string(++n);
      integer(out, n);
    }
  } else if (is(a[0], "quit")) {
    out += "+OK\r\n";
    return true;
  } else if (is(a[0], "config") && a.size() == 3 && is(a[1], "get")) {
    out += "*0\r\n";  // redis-benchmark asks at start-up
  } else {
    out += "-ERR unknown command or wrong number of arguments for '" + std::string(a[0].substr(0, 32)) + "'\r\n";
  }
  return false;
}

// The number (0 to limit) on the "*N" or "$N" line at pos: 1 (pos moved past
// it), 0 while incomplete, -1 for a bad line.
int number_line(std::string_view in, size_t &pos, long long limit, long long &n) {
  size_t cr = in.find('\r', pos);
  if (cr == std::string_view::npos || cr + 1 >= in.size()) return in.size() - pos > 32 ? -1 : 0;
  auto [end, ec] = std::from_chars(in.data() + pos + 1, in.data() + cr, n);
  if (ec != std::errc() || end != in.data() + cr || in[cr + 1] != '\n' || n < 0 || n > limit) return -1;
  pos = cr + 2;
  return 1;
}

// Parses one command at in[pos..]: 1 (pos moved past it), 0 while incomplete,
// -1 on a protocol error.
int parse(std::string_view in, size_t &pos, std::vector<std::string_view> &args) {
  args.clear();
  if (in[pos] != '*') {  // an inline command: words up to a newline
    size_t nl = in.find('\n', pos);
    if (nl == std::string_view::npos) return in.size() - pos > max_inline ? -1 : 0;
    std::string_view line = in.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    for (size_t at = 0; (at = line.find_first_not_of(' ', at)) != std::string_view::npos;) {
      size_t stop = std::min(line.find(' ', at), line.size());
      args.push_back(line.substr(at, stop - at));
      at = stop;
    }
    pos = nl + 1;
    return 1;
  }
  size_t at = pos;
  long long n, len;
  if (int rc = number_line(in, at, max_args, n); rc <= 0) return rc;
  for (long long i = 0; i < n; i++) {
    if (at == in.size()) return 0;
    if (in[at] != '$') return -1;
    if (int rc = number_line(in, at, max_bulk, len); rc <= 0) return rc;
    if (in.size() - at < size_t(len) + 2) return 0;
    args.push_back(in.substr(at, size_t(len)));
    at += size_t(len) + 2;
  }
  pos = at;
  return 1;
}

awaitable<void> session(tcp::socket socket, Store &db) {
  std::string in, out;
  std::vector<std::string_view> args;
  char chunk[4096];
  try {
    for (bool quit = false; !quit;) {
      size_t n = co_await socket.async_read_some(asio::buffer(chunk), use_awaitable);
      in.append(chunk, n);
      size_t pos = 0;
      int rc = 0;
      while (!quit && pos < in.size() && (rc = parse(in, pos, args)) > 0) quit = run(db, args, out);
      if (rc < 0) {
        out += "-ERR Protocol error\r\n";
        quit = true;
      }
      in.erase(0, pos);
      if (!out.empty()) co_await asio::async_write(socket, asio::buffer(out), use_awaitable);
      out.clear();
    }
  } catch (const std::exception &) {
    // The client went away: the connection just ends.
  }
}

awaitable<void> listen(tcp::acceptor acceptor, Store &db) {
  for (;;) {
    // A failed accept (out of descriptors) drops that client only.
    asio::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec) continue;
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket), db), asio::detached);
  }
}

}  // namespace

int main(int argc, char **argv) {
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  int i = 1;
  for (; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--host") == 0) host = argv[i + 1];
    else if (std::strcmp(argv[i], "--port") == 0) port = static_cast<unsigned short>(std::atoi(argv[i + 1]));
    else break;
  }
  if (i != argc) {
    std::fprintf(stderr, "usage: resp-asio [--host HOST] [--port PORT]\n");
    return 2;
  }
  try {
    asio::io_context ctx(1);
    tcp::acceptor acceptor(ctx, {asio::ip::make_address(host), port});
    std::printf("listening on %s:%d\n", host.c_str(), acceptor.local_endpoint().port());
    std::fflush(stdout);
    Store db;
    asio::signal_set signals(ctx, SIGINT, SIGTERM);
    signals.async_wait([&](auto, auto) { ctx.stop(); });
    asio::co_spawn(ctx, listen(std::move(acceptor), db), asio::detached);
    ctx.run();
  } catch (const std::exception &e) {
    std::fprintf(stderr, "resp-asio: %s\n", e.what());
    return 1;
  }
}
