// The inbox on a real libuv loop, in the style of libuv's own tests: a fresh uv_loop_t, events
// posted from other threads, counters asserted after uv_run returns, and every handle closed so
// that uv_loop_close succeeds (nothing left open, nothing leaked into the loop).
#include "ringcast/net/loop_inbox.h"

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "loop_fixture.h"

using namespace ringcast::relay;

namespace {

// What the tests post: who sent it, its sequence number from that sender, and whether it jumps
// the queue.
struct Note {
  int sender = -1;  // -1: an empty slot (what the inbox leaves behind a handled urgent note)
  int sequence = 0;
  bool urgent = false;
};

bool is_urgent(const Note& note) { return note.urgent; }

}  // namespace

TEST_CASE("an inbox hands its loop every event from every sender, each sender's in order", "[loop]") {
  Loop fixture;
  LoopInbox<Note> inbox;
  constexpr int kSenders = 4;
  constexpr int kEach = 20'000;
  std::vector<int> next(kSenders, 0);
  int handled = 0;
  bool in_order = true;
  REQUIRE_FALSE(inbox.open(&fixture.loop, [&](Note& note) {
    if (note.sender < 0) return;
    in_order = in_order && note.sequence == next[note.sender];
    next[note.sender] = note.sequence + 1;
    if (++handled == kSenders * kEach) inbox.close();  // the last one: the loop may end
  }));
  std::vector<std::thread> senders;
  for (int sender = 0; sender < kSenders; ++sender) {
    senders.emplace_back([&inbox, sender] {
      auto token = inbox.make_producer_token();
      for (int i = 0; i < kEach; ++i) inbox.post(token, Note{sender, i});
    });
  }
  CHECK(uv_run(&fixture.loop, UV_RUN_DEFAULT) == 0);  // returns once the inbox is closed
  for (auto& sender : senders) sender.join();
  CHECK(handled == kSenders * kEach);
  CHECK(in_order);
  for (int sender = 0; sender < kSenders; ++sender) CHECK(next[sender] == kEach);
}

TEST_CASE("an urgent event is handled before the rest of its batch", "[loop]") {
  Loop fixture;
  LoopInbox<Note> inbox;
  std::vector<Note> seen;
  REQUIRE_FALSE(inbox.open(
              &fixture.loop,
              [&](Note& note) {
                if (note.sender >= 0) seen.push_back(note);
                if (seen.size() == 11) inbox.close();
              },
              is_urgent));
  // Posted before the loop runs: one batch of ten ordinary events, then a writer's plea.
  auto token = inbox.make_producer_token();
  for (int i = 0; i < 10; ++i) inbox.post(token, Note{0, i});
  inbox.post(token, Note{0, 10, true});
  CHECK(uv_run(&fixture.loop, UV_RUN_DEFAULT) == 0);
  REQUIRE(seen.size() == 11);
  CHECK(seen.front().urgent);
  for (std::size_t i = 1; i < seen.size(); ++i) CHECK(seen[i].sequence == static_cast<int>(i - 1));
}

TEST_CASE("a closed inbox drops what arrives after, and its loop still closes clean", "[loop]") {
  Loop fixture;
  LoopInbox<Note> inbox;
  int handled = 0;
  REQUIRE_FALSE(inbox.open(&fixture.loop, [&](Note& note) {
    if (note.sender < 0) return;
    ++handled;
    inbox.close();
    // Work that arrives after the loop decided to stop (a sender that has not heard yet).
    inbox.post(Note{1, 0});
  }));
  inbox.post(Note{0, 0});
  inbox.post(Note{0, 1});  // the same batch as the first: after close(), dropped too
  CHECK(uv_run(&fixture.loop, UV_RUN_DEFAULT) == 0);
  CHECK(handled == 1);
}
