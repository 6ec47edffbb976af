// Admission with plain values: every branch of admit_viewer and admit_source, no socket, no loop.
#include "ringcast/admission/admission.h"

#include <catch2/catch.hpp>
#include <map>

#include "ringcast/auth/auth.h"

using namespace ringcast::relay;

namespace {

struct FakeMount {
  MountState state;
  std::string content_type = "audio/mpeg";
};

class FakeMounts final : public MountLookup {
 public:
  std::map<std::string, FakeMount, std::less<>> mounts;
  std::map<std::string, MountSettings, std::less<>> settings_of;

  std::optional<MountState> find(std::string_view mount) const override {
    const auto it = mounts.find(mount);
    if (it == mounts.end()) return std::nullopt;
    return it->second.state;
  }
  const MountSettings* settings(std::string_view mount) const override {
    const auto it = settings_of.find(mount);
    return it == settings_of.end() ? nullptr : &it->second;
  }
  std::string content_type(std::string_view mount) const override {
    const auto it = mounts.find(mount);
    return it == mounts.end() ? std::string() : it->second.content_type;
  }

  FakeMounts& live(std::string name, std::size_t viewers = 0) {
    mounts[std::move(name)].state = MountState{true, viewers};
    return *this;
  }
  FakeMounts& away(std::string name) {
    mounts[std::move(name)].state = MountState{false, 0};
    return *this;
  }
};

RequestHead get(std::string target, std::vector<std::pair<std::string, std::string>> headers = {}) {
  RequestHead head;
  head.method = Method::get;
  head.method_name = "GET";
  head.target = target;
  head.path = target.substr(0, target.find('?'));
  head.headers = std::move(headers);
  return head;
}

ViewerPolicy relay_policy() {
  ViewerPolicy policy;
  policy.icy_metaint = 16000;
  policy.relay_id = "edge-a";
  return policy;
}

ViewerAdmission admit(const RequestHead& head, const MountLookup& mounts,
                      const ViewerPolicy& policy = relay_policy(), bool authenticated = false,
                      std::string_view user = "") {
  return admit_viewer(head, authenticated, user, mounts, policy);
}

using Outcome = ViewerAdmission::Outcome;

}  // namespace

TEST_CASE("a live mount admits a listener to itself, without ICY metadata unless asked") {
  FakeMounts mounts;
  mounts.live("/live");
  const auto decision = admit(get("/live"), mounts);
  CHECK(decision.outcome == Outcome::join);
  CHECK(decision.mount == "/live");
  CHECK(decision.metaint == 0);
  CHECK_FALSE(decision.rewind_ms);
  CHECK_FALSE(decision.one_connection_per_user);
}

TEST_CASE("a name that is no mount name is refused with 400 before anything is looked up") {
  FakeMounts mounts;
  const auto decision = admit(get("/a/../b"), mounts);
  CHECK(decision.outcome == Outcome::refuse);
  CHECK(decision.refused.status == 400);
  CHECK(decision.refused.refusal == Refusal::bad_request);
  CHECK(decision.refused.close);  // The same refusal for an HLS request's path.
  REQUIRE(bad_mount_name("/a/../b/index.m3u8", 128));
  CHECK(bad_mount_name("/a/../b/index.m3u8", 128)->status == 400);
  CHECK_FALSE(bad_mount_name("/live/index.m3u8", 128));
}

TEST_CASE("a pull that passed through this relay already is refused with 508") {
  FakeMounts mounts;
  mounts.live("/live");
  const auto looped = admit(get("/live", {{"X-Ringcast-Relay", "origin-1, edge-a"}}), mounts);
  CHECK(looped.outcome == Outcome::refuse);
  CHECK(looped.refused.status == 508);
  CHECK(looped.refused.refusal == Refusal::relay_loop);
  CHECK(looped.refused.reason.find("relay loop") != std::string::npos);

  ViewerPolicy short_chains = relay_policy();
  short_chains.relay_max_hops = 2;
  const auto too_long = admit(get("/live", {{"X-Ringcast-Relay", "e1, e2"}}), mounts, short_chains);
  CHECK(too_long.refused.status == 508);
  CHECK(admit(get("/live", {{"X-Ringcast-Relay", "e1"}}), mounts, short_chains).outcome ==
        Outcome::join);
}

TEST_CASE("a draining relay answers new listeners 503 with Retry-After and keeps the connection") {
  FakeMounts mounts;
  mounts.live("/live");
  ViewerPolicy draining = relay_policy();
  draining.draining = true;
  const auto decision = admit(get("/live"), mounts, draining);
  CHECK(decision.refused.status == 503);
  CHECK(decision.refused.refusal == Refusal::draining);
  CHECK(decision.refused.retry_after);
  CHECK_FALSE(decision.refused.close);
}

TEST_CASE("a mount that does not exist is 404, one whose source is away still admits (its grace)") {
  FakeMounts mounts;
  mounts.away("/resting");
  const auto missing = admit(get("/nothing"), mounts);
  CHECK(missing.refused.status == 404);
  CHECK(missing.refused.refusal == Refusal::not_found);
  const auto resting = admit(get("/resting"), mounts);
  CHECK(resting.outcome == Outcome::join);
  CHECK(resting.mount == "/resting");
}

TEST_CASE("a mount without a source is served by the first live mount down its fallback chain") {
  FakeMounts mounts;
  mounts.away("/main").away("/backup").live("/jingles");
  mounts.settings_of["/main"].fallback_mount = "/backup";
  mounts.settings_of["/backup"].fallback_mount = "/jingles";
  const auto decision = admit(get("/main"), mounts);
  CHECK(decision.outcome == Outcome::join);
  CHECK(decision.mount == "/jingles");

  // A mount that does not exist at all has a fallback too.
  mounts.mounts.erase("/main");
  CHECK(admit(get("/main"), mounts).mount == "/jingles");
}

TEST_CASE(
    "a full mount refuses with 503, or sends to a fallback with room when fallback_when_full") {
  FakeMounts mounts;
  mounts.live("/main", 2).live("/overflow", 5).live("/last", 0);
  mounts.settings_of["/main"].max_viewers = 2;
  const auto full = admit(get("/main"), mounts);
  CHECK(full.refused.status == 503);
  CHECK(full.refused.refusal == Refusal::over_limit);
  CHECK(full.refused.reason == "2 viewers (max viewers of the mount)");

  mounts.settings_of["/main"].fallback_when_full = true;
  mounts.settings_of["/main"].fallback_mount = "/overflow";
  mounts.settings_of["/overflow"].fallback_mount = "/last";
  mounts.settings_of["/overflow"].max_viewers = 5;  // full too: on down the chain
  const auto sent = admit(get("/main"), mounts);
  CHECK(sent.outcome == Outcome::join);
  CHECK(sent.mount == "/last");
  CHECK(sent.sent_to_fallback_when_full);
  CHECK(sent.max_viewers == 2);

  mounts.mounts["/last"].state.has_source = false;
  CHECK(admit(get("/main"), mounts).refused.status == 503);
}

TEST_CASE("the relay-wide listener limit applies to a mount without its own") {
  FakeMounts mounts;
  mounts.live("/live", 10);
  ViewerPolicy policy = relay_policy();
  policy.max_viewers_per_mount = 10;
  CHECK(admit(get("/live"), mounts, policy).refused.status == 503);
  mounts.settings_of["/live"].max_viewers = 0;  // the mount's own: no limit
  CHECK(admit(get("/live"), mounts, policy).outcome == Outcome::join);
}

TEST_CASE("a mount that authenticates listeners asks the authenticator first, then admits") {
  FakeMounts mounts;
  mounts.live("/members");
  auto users = std::make_shared<UsersFile>();
  users->users["ann"] = "hash";
  mounts.settings_of["/members"].listener_users = users;
  CHECK(admit(get("/members"), mounts).outcome == Outcome::authenticate);
  // HEAD is asked too: what a mount says about itself is for its listeners.
  RequestHead head = get("/members");
  head.method = Method::head;
  CHECK(admit(head, mounts).outcome == Outcome::authenticate);

  const auto allowed = admit(get("/members"), mounts, relay_policy(), true, "ann");
  CHECK(allowed.outcome == Outcome::join);
  CHECK(allowed.one_connection_per_user);  // Icecast's duplicate-user rule
  mounts.settings_of["/members"].allow_duplicate_users = true;
  CHECK_FALSE(admit(get("/members"), mounts, relay_policy(), true, "ann").one_connection_per_user);
}

TEST_CASE("an ICY listener gets the relay's interval, the mount's own, or none for Ogg and WebM") {
  FakeMounts mounts;
  mounts.live("/mp3").live("/ogg");
  mounts.mounts["/ogg"].content_type = "Audio/Ogg";
  const auto icy = get("/mp3", {{"Icy-MetaData", "1"}});
  CHECK(admit(icy, mounts).metaint == 16000);
  mounts.settings_of["/mp3"].icy_metaint = 8192;
  CHECK(admit(icy, mounts).metaint == 8192);
  CHECK(admit(get("/ogg", {{"Icy-MetaData", "1"}}), mounts).metaint == 0);
  CHECK(admit(get("/mp3", {{"Icy-MetaData", "0"}}), mounts).metaint == 0);
}

TEST_CASE("HEAD answers the head with its interval, Safari's two-byte probe answers without one") {
  FakeMounts mounts;
  mounts.live("/live");
  RequestHead head = get("/live", {{"Icy-MetaData", "1"}});
  head.method = Method::head;
  const auto answered = admit(head, mounts);
  CHECK(answered.outcome == Outcome::answer_head);
  CHECK(answered.metaint == 16000);

  const auto probe = admit(get("/live", {{"Icy-MetaData", "1"}, {"Range", "bytes=0-1"}}), mounts);
  CHECK(probe.outcome == Outcome::answer_probe);
  CHECK(probe.mount == "/live");
  CHECK(probe.metaint == 0);
  // Any other range is an ordinary listener.
  CHECK(admit(get("/live", {{"Range", "bytes=0-"}}), mounts).outcome == Outcome::join);
}

TEST_CASE("?rewind= starts behind live by that many seconds, a value that is no number is 400") {
  FakeMounts mounts;
  mounts.live("/tv");
  const auto behind = admit(get("/tv?rewind=2.5"), mounts);
  CHECK(behind.outcome == Outcome::join);
  REQUIRE(behind.rewind_ms);
  CHECK(*behind.rewind_ms == 2500);

  for (const char* target : {"/tv?rewind=soon", "/tv?rewind=-1", "/tv?rewind=%zz", "/tv?rewind="}) {
    INFO(target);
    const auto refused = admit(get(target), mounts);
    CHECK(refused.refused.status == 400);
    CHECK(refused.refused.refusal == Refusal::bad_request);
  }
}

TEST_CASE("an edge asks its origin for a mount it lacks, then admits what the pull brought") {
  FakeMounts mounts;
  ViewerPolicy edge = relay_policy();
  edge.relays_mount = true;
  const auto ask = admit(get("/far"), mounts, edge);
  CHECK(ask.outcome == Outcome::ask_origin);
  CHECK_FALSE(ask.mount_present);

  mounts.away("/far");  // present, its pull stopped: its listeners may wait in its grace
  CHECK(admit(get("/far"), mounts, edge).mount_present);

  edge.origin_asked = true;  // the second pass: the directory said the pull is there
  CHECK(admit(get("/far"), mounts, edge).outcome == Outcome::join);
  mounts.mounts.clear();
  CHECK(admit(get("/far"), mounts, edge).refused.status == 404);

  // A live mount, or a live fallback, needs no origin.
  edge.origin_asked = false;
  mounts.live("/near");
  CHECK(admit(get("/near"), mounts, edge).outcome == Outcome::join);
  mounts.away("/far").live("/filler");
  mounts.settings_of["/far"].fallback_mount = "/filler";
  CHECK(admit(get("/far"), mounts, edge).mount == "/filler");
}

namespace {

RequestHead source(std::string mount,
                   std::vector<std::pair<std::string, std::string>> headers = {}) {
  RequestHead head;
  head.method = Method::put;
  head.method_name = "PUT";
  head.target = mount;
  head.path = std::move(mount);
  head.headers = std::move(headers);
  return head;
}

// "source:hackme", as every encoder sends it.
const std::pair<std::string, std::string> kGoodCredentials{"Authorization",
                                                           "Basic c291cmNlOmhhY2ttZQ=="};

SourcePolicy source_policy() {
  SourcePolicy policy;
  policy.source_password = "hackme";
  return policy;
}

using SourceOutcome = SourceAdmission::Outcome;

}  // namespace

TEST_CASE("a source with the right password is accepted, with its coding and Expect noted") {
  FakeMounts mounts;
  const auto plain =
      admit_source(source("/live", {kGoodCredentials}), false, mounts, source_policy());
  CHECK(plain.outcome == SourceOutcome::accept);
  CHECK_FALSE(plain.chunked);
  CHECK_FALSE(plain.continue_expected);

  const auto chunked = admit_source(
      source("/live",
             {kGoodCredentials, {"Transfer-Encoding", "Chunked"}, {"Expect", "100-CONTINUE"}}),
      false, mounts, source_policy());
  CHECK(chunked.outcome == SourceOutcome::accept);
  CHECK(chunked.chunked);
  CHECK(chunked.continue_expected);
}

TEST_CASE("a source without credentials is challenged quietly, with wrong ones loudly") {
  FakeMounts mounts;
  const auto first = admit_source(source("/live"), false, mounts, source_policy());
  CHECK(first.outcome == SourceOutcome::refuse);
  CHECK(first.refused.status == 401);
  CHECK(first.refused.refusal == Refusal::auth_failure);
  CHECK(first.refused.level == Refused::Level::debug);  // libshout's routine first try
  CHECK_FALSE(first.refused.close);

  const auto wrong = admit_source(source("/live", {{"Authorization", "Basic c291cmNlOm5vcGU="}}),
                                  false, mounts, source_policy());
  CHECK(wrong.refused.status == 401);
  CHECK(wrong.refused.level == Refused::Level::warn);

  // Allowed by the stream_auth URL already: no password asked.
  CHECK(admit_source(source("/live"), true, mounts, source_policy()).outcome ==
        SourceOutcome::accept);
}

TEST_CASE("a mount with a stream_auth URL asks it instead of the password") {
  FakeMounts mounts;
  mounts.settings_of["/live"].stream_auth_url = "http://127.0.0.1:9/auth";
  CHECK(admit_source(source("/live"), false, mounts, source_policy()).outcome ==
        SourceOutcome::authenticate);
  // Once it allowed the source, no password is asked.
  CHECK(admit_source(source("/live"), true, mounts, source_policy()).outcome ==
        SourceOutcome::accept);
}

TEST_CASE("a transfer coding other than chunked is 501") {
  FakeMounts mounts;
  const auto decision =
      admit_source(source("/live", {kGoodCredentials, {"Transfer-Encoding", "gzip"}}), false,
                   mounts, source_policy());
  CHECK(decision.refused.status == 501);
  CHECK(decision.refused.refusal == Refusal::bad_request);
}

TEST_CASE("a source may not take a reserved path, an HLS path or a path under a mount") {
  FakeMounts mounts;
  mounts.live("/tv");
  for (const char* path :
       {"/stats", "/admin/metadata", "/radio/index.m3u8", "/radio/12.ts", "/tv/extra"}) {
    INFO(path);
    const auto decision =
        admit_source(source(path, {kGoodCredentials}), false, mounts, source_policy());
    CHECK(decision.refused.status == 403);
    CHECK(decision.refused.refusal == Refusal::mount_in_use);
  }
  CHECK(path_taken_for_source("/tv/extra", mounts) ==
        "under the mount /tv, whose HLS paths live there");
  CHECK_FALSE(path_taken_for_source("/tv2", mounts));
}

TEST_CASE("a draining relay refuses sources with 503 first, then bad names with 400") {
  FakeMounts mounts;
  SourcePolicy draining = source_policy();
  draining.draining = true;
  const auto refused = admit_source(source("/a/../b", {kGoodCredentials}), false, mounts, draining);
  CHECK(refused.refused.status == 503);
  CHECK(refused.refused.retry_after);
  const auto bad =
      admit_source(source("/a/../b", {kGoodCredentials}), false, mounts, source_policy());
  CHECK(bad.refused.status == 400);
}
