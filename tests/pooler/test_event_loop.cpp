// Unit tests of rpool's epoll loop (pooler/event_loop.hpp).
#include <catch2/catch.hpp>

#include <sys/timerfd.h>
#include <unistd.h>

#include <cstdint>

#include "pooler/event_loop.hpp"

using namespace rpool;

namespace {
// A timer fd in the loop: the stand-in for a client's message that wakes the loop between two ticks.
struct Timer final : IoHandler {
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  int fired = 0;
  ~Timer() override { close(fd); }
  void arm_in_us(long us) {
    itimerspec t{};
    t.it_value.tv_sec = us / 1'000'000;
    t.it_value.tv_nsec = (us % 1'000'000) * 1000;
    timerfd_settime(fd, 0, &t, nullptr);
  }
  void on_io(uint32_t) override {
    uint64_t n = 0;
    if (read(fd, &n, sizeof n) == sizeof n) ++fired;
  }
};
}  // namespace

TEST_CASE("event loop: a loop woken between ticks sleeps until the next tick instead of polling for it") {
  // Each tick arms a timer 7.5 ms ahead, so the loop wakes once between ticks, as a worker does for its clients'
  // messages; after handling it, it has 12.5 ms to wait for the next tick. So each tick takes three passes of
  // run() (three after_batch calls): the wake-up by the timer, the wait that ends at the tick, and the tick.
  // epoll_wait's timeout is in whole milliseconds and it never returns before it, so the wait must be rounded up
  // (13 ms). Before 2026-11-24 it was rounded down (12 ms): the wait ended 0.5 ms before the tick, and the loop
  // called epoll_wait with timeout 0 again and again until the tick was due. A busy worker did that in the last
  // millisecond of every 100 ms tick: a run of up to 1 ms without sleeping that pushed it ahead of its fair
  // share, after which it waited about a slice (1.5 ms) for a cpu with its clients' results unanswered. Here that
  // loop made hundreds of passes per tick.
  EventLoop loop;
  Timer timer;
  REQUIRE(timer.fd >= 0);
  loop.add(timer.fd, EPOLLIN, &timer);
  int ticks = 0;
  long passes = 0;
  timer.arm_in_us(7'500);
  loop.run(
      20,
      [&] {
        if (++ticks == 5) {
          loop.stop();
        } else {
          timer.arm_in_us(7'500);
        }
      },
      [&] { ++passes; });
  loop.remove(timer.fd);
  CHECK(ticks == 5);
  CHECK(timer.fired == 5);
  // Three passes a tick; one more now and then is a wake-up without an event (a signal: EINTR).
  CHECK(passes <= 4 * ticks);
}
