// The deadline wheel (deadline_wheel.h): items visited when their tick comes, as plain values.
#include "ringcast/core/deadline_wheel.h"

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

using namespace ringcast::relay;

namespace {

struct Item {
  explicit Item(int id) : id(id) {}
  int id;
  WheelHook<Item> hook{*this};
};

// The ids expire(now) hands out, in order.
std::vector<int> expire(DeadlineWheel<Item>& wheel, std::uint64_t now_ms) {
  std::vector<int> due;
  wheel.expire(now_ms, [&](Item& item) { due.push_back(item.id); });
  return due;
}

}  // namespace

TEST_CASE("an item is due at the first tick at or after its deadline, and once") {
  DeadlineWheel<Item> wheel(250, 16, 1'000);
  Item a(1), b(2), c(3);
  wheel.schedule(a.hook, 1'250);  // on a tick boundary
  wheel.schedule(b.hook, 1'251);  // just after one: the next
  wheel.schedule(c.hook, 2'000);
  CHECK(expire(wheel, 1'249).empty());
  CHECK(expire(wheel, 1'250) == std::vector<int>{1});
  CHECK_FALSE(a.hook.scheduled());
  CHECK(b.hook.scheduled());
  CHECK(expire(wheel, 1'499).empty());
  CHECK(expire(wheel, 1'500) == std::vector<int>{2});
  // Several ticks at once: each due item, none early.
  CHECK(expire(wheel, 1'999).empty());
  CHECK(expire(wheel, 2'100) == std::vector<int>{3});
  CHECK(expire(wheel, 9'000).empty());
}

TEST_CASE("a deadline already past is due at the next expire, never lost in a passed slot") {
  DeadlineWheel<Item> wheel(250, 16, 1'000);
  Item a(1), b(2);
  CHECK(expire(wheel, 1'600).empty());
  wheel.schedule(a.hook, 0);
  wheel.schedule(b.hook, 1'600);        // now, in the tick expire() has done
  CHECK(expire(wheel, 1'600).empty());  // the same tick again: nothing new is done
  CHECK(expire(wheel, 1'750) == std::vector<int>{1, 2});
}

TEST_CASE("a deadline beyond the wheel's span is passed over until its turn") {
  DeadlineWheel<Item> wheel(100, 8, 0);  // spans 800 ms
  Item far(1);
  wheel.schedule(far.hook, 2'050);  // more than two turns away, in slot 21 % 8 = 5
  for (std::uint64_t now = 100; now < 2'100; now += 100) {
    INFO("now " << now);
    CHECK(expire(wheel, now).empty());
    CHECK(far.hook.scheduled());
  }
  CHECK(expire(wheel, 2'100) == std::vector<int>{1});
}

TEST_CASE("a gap longer than the wheel's span expires everything due in it") {
  DeadlineWheel<Item> wheel(100, 8, 0);
  std::vector<std::unique_ptr<Item>> items;
  for (int i = 0; i < 20; ++i) {
    items.push_back(std::make_unique<Item>(i));
    wheel.schedule(items.back()->hook, 100 + 150 * static_cast<std::uint64_t>(i));
  }
  // Deadlines 100..2,950; a loop that slept until 2,000 gets the first 13 at once.
  std::vector<int> due = expire(wheel, 2'000);
  CHECK(std::set<int>(due.begin(), due.end()) ==
        std::set<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  CHECK(due.size() == 13);
  due = expire(wheel, 3'000);
  CHECK(std::set<int>(due.begin(), due.end()) == std::set<int>{13, 14, 15, 16, 17, 18, 19});
}

TEST_CASE("rescheduling moves an item, cancelling or destroying it takes it out") {
  DeadlineWheel<Item> wheel(250, 16, 0);
  Item a(1), b(2);
  wheel.schedule(a.hook, 500);
  wheel.schedule(a.hook, 1'000);  // moved later
  wheel.schedule(b.hook, 500);
  wheel.cancel(b.hook);
  CHECK_FALSE(b.hook.scheduled());
  {
    Item gone(3);
    wheel.schedule(gone.hook, 500);
  }
  CHECK(expire(wheel, 750).empty());
  CHECK(expire(wheel, 1'000) == std::vector<int>{1});
}

TEST_CASE("the callback may schedule its item again, and cancel or free others of its slot") {
  DeadlineWheel<Item> wheel(250, 16, 0);
  Item again(1);
  auto freed = std::make_unique<Item>(2);
  Item cancelled(3);
  wheel.schedule(again.hook, 250);
  wheel.schedule(freed->hook, 250);
  wheel.schedule(cancelled.hook, 250);
  std::vector<int> seen;
  wheel.expire(250, [&](Item& item) {
    seen.push_back(item.id);
    if (item.id == 1) {
      wheel.schedule(item.hook, 0);  // at once: the next tick, not this expire
      freed.reset();
      wheel.cancel(cancelled.hook);
    }
  });
  CHECK(seen == std::vector<int>{1});
  CHECK(expire(wheel, 499).empty());
  CHECK(expire(wheel, 500) == std::vector<int>{1});
}

TEST_CASE("random schedules, cancels and expires agree with a model (seeded)") {
  constexpr std::uint64_t kTick = 50;
  std::mt19937 random(27);
  DeadlineWheel<Item> wheel(kTick, 32, 0);
  std::vector<std::unique_ptr<Item>> items;
  for (int i = 0; i < 64; ++i) items.push_back(std::make_unique<Item>(i));
  std::map<int, std::uint64_t> model;  // id -> the tick it is due at
  std::uint64_t now = 0;
  std::uint64_t done_tick = 0;
  for (int step = 0; step < 20'000; ++step) {
    Item& item = *items[random() % items.size()];
    switch (random() % 4) {
      case 0:
      case 1: {
        const std::uint64_t due = now + random() % 5'000;
        wheel.schedule(item.hook, due);
        model[item.id] = std::max((due + kTick - 1) / kTick, done_tick + 1);
        break;
      }
      case 2:
        wheel.cancel(item.hook);
        model.erase(item.id);
        break;
      case 3: {
        now += random() % 300;
        std::set<int> expected;
        if (now / kTick > done_tick) {
          done_tick = now / kTick;
          for (auto it = model.begin(); it != model.end();) {
            if (it->second <= done_tick) {
              expected.insert(it->first);
              it = model.erase(it);
            } else {
              ++it;
            }
          }
        }
        const std::vector<int> due = expire(wheel, now);
        REQUIRE(std::set<int>(due.begin(), due.end()) == expected);
        REQUIRE(due.size() == expected.size());
        break;
      }
    }
    for (const auto& each : items) REQUIRE(each->hook.scheduled() == model.contains(each->id));
  }
}
