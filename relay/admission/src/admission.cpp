// Viewer and source admission: the rules in the order a request meets them. Each refusal
// carries the text the peer reads and the reason the log line gives.
#include "ringcast/admission/admission.h"

#include "ringcast/edge/edge.h"
#include "ringcast/http/peer_text.h"
#include "ringcast/http/router.h"
#include "ringcast/radio/fallback.h"
#include "ringcast/video/hls.h"

namespace ringcast::relay {

namespace {

template <typename Admission>
Admission refuse(int status, std::string body, std::string reason, Refusal refusal,
                 Refused::Level level = Refused::Level::info) {
  Admission decision;
  decision.outcome = Admission::Outcome::refuse;
  decision.refused.status = status;
  decision.refused.body = std::move(body);
  decision.refused.reason = std::move(reason);
  decision.refused.refusal = refusal;
  decision.refused.level = level;
  return decision;
}

Refused draining_refusal() {
  Refused refused;
  refused.status = 503;
  refused.body = "this server is shutting down; try again\n";
  refused.reason = "the relay is draining";
  refused.refusal = Refusal::draining;
  refused.close = false;
  refused.retry_after = true;
  return refused;
}

}  // namespace

std::optional<std::string> live_fallback_of(std::string_view mount, const MountLookup& mounts,
                                            std::size_t max_viewers_per_mount, bool with_room) {
  return live_fallback(
      mount, [&](std::string_view name) { return mounts.settings(name); },
      [&](std::string_view name) {
        const auto state = mounts.find(name);
        if (!state || !state->has_source) return false;
        if (!with_room) return true;
        const std::size_t limit = max_viewers_of(mounts.settings(name), max_viewers_per_mount);
        return limit == 0 || state->viewers < limit;
      });
}

std::optional<Refused> bad_mount_name(std::string_view path, std::size_t max_length) {
  const auto problem = mount_name_problem(path, max_length);
  if (!problem) return std::nullopt;
  Refused refused;
  refused.status = 400;
  refused.body = std::string(*problem) + "\n";
  refused.reason = std::string(*problem);
  refused.refusal = Refusal::bad_request;
  return refused;
}

std::size_t max_viewers_of(const MountSettings* settings, std::size_t relay_default) {
  return settings && settings->max_viewers ? *settings->max_viewers : relay_default;
}

bool carries_own_metadata(std::string_view content_type) {
  return starts_with_ignoring_case(content_type, "application/ogg") ||
         starts_with_ignoring_case(content_type, "audio/ogg") ||
         starts_with_ignoring_case(content_type, "video/ogg") ||
         starts_with_ignoring_case(content_type, "audio/webm") ||
         starts_with_ignoring_case(content_type, "video/webm");
}

ViewerAdmission admit_viewer(const RequestHead& head, bool authenticated, std::string_view user,
                             const MountLookup& mounts, const ViewerPolicy& policy) {
  const std::string& path = head.path;
  if (auto refused = bad_mount_name(path, policy.max_mount_length)) {
    ViewerAdmission decision;
    decision.refused = std::move(*refused);
    return decision;
  }
  if (const auto value = head.header(kRelayChainHeader)) {
    // Another relay pulls this on behalf of the relays in its chain: never around a loop.
    const RelayChain chain = parse_relay_chain(value);
    if (const auto problem = relay_chain_problem(chain, policy.relay_id, policy.relay_max_hops)) {
      return refuse<ViewerAdmission>(
          508, std::string(*problem) + "\n",
          std::string(*problem) + " (chain " + PeerText::from(*value).str() + ")",
          Refusal::relay_loop, Refused::Level::warn);
    }
  }
  // (HLS paths never get here: the router sends them to their own handler, which a drain lets
  // through for the present listeners' players.) New listeners go elsewhere while draining.
  if (policy.draining) {
    ViewerAdmission decision;
    decision.refused = draining_refusal();
    return decision;
  }

  std::string serving = path;
  std::optional<MountState> state = mounts.find(path);
  const bool present = state.has_value();
  if (!state || !state->has_source) {
    // A mount whose source is away is served by its fallback, if one is live.
    if (auto fallback = live_fallback_of(path, mounts, policy.max_viewers_per_mount, false)) {
      serving = std::move(*fallback);
      state = mounts.find(serving);
    }
  }
  if ((!state || !state->has_source) && policy.relays_mount && !policy.origin_asked) {
    // An edge: a mount it lacks, or whose pull has stopped, comes from an origin.
    ViewerAdmission decision;
    decision.outcome = ViewerAdmission::Outcome::ask_origin;
    decision.mount_present = present;
    return decision;
  }
  if (!state)
    return refuse<ViewerAdmission>(404, "no such mount\n", "no such mount", Refusal::not_found);

  const MountSettings* settings = mounts.settings(path);
  ViewerAdmission decision;
  decision.max_viewers = max_viewers_of(settings, policy.max_viewers_per_mount);
  bool full = decision.max_viewers != 0 && state->viewers >= decision.max_viewers;
  if (full && settings && settings->fallback_when_full) {
    // fallback-when-full: the first mount down the chain that is live and has room.
    if (auto overflow = live_fallback_of(path, mounts, policy.max_viewers_per_mount, true)) {
      serving = std::move(*overflow);
      decision.sent_to_fallback_when_full = true;
      full = false;
    }
  }
  if (full) {
    return refuse<ViewerAdmission>(
        503, "mount full\n",
        std::to_string(decision.max_viewers) + " viewers (max viewers of the mount)",
        Refusal::over_limit, Refused::Level::warn);
  }
  if (settings && settings->listener_auth() && !authenticated) {
    decision.outcome = ViewerAdmission::Outcome::authenticate;
    return decision;
  }
  decision.mount = std::move(serving);
  if (head.header("Icy-MetaData").value_or("0") == "1" &&
      !carries_own_metadata(mounts.content_type(decision.mount))) {
    decision.metaint =
        settings && settings->icy_metaint ? *settings->icy_metaint : policy.icy_metaint;
  }
  if (head.method == Method::head) {
    decision.outcome = ViewerAdmission::Outcome::answer_head;
    return decision;
  }
  if (head.header("Range").value_or("") == "bytes=0-1") {
    // Safari's probe before it plays: two bytes of the stream, and not a listener.
    decision.outcome = ViewerAdmission::Outcome::answer_probe;
    decision.metaint = 0;
    return decision;
  }
  if (has_query_parameter(head.target, "rewind")) {
    // ?rewind=SECONDS (decimals allowed): start that far behind live, at a keyframe. A value
    // that does not decode is refused like one that is not a number.
    const std::optional<std::string> rewind = query_parameter(head.target, "rewind");
    const std::optional<double> seconds = rewind ? parse_rewind_seconds(*rewind) : std::nullopt;
    if (!seconds) {
      return refuse<ViewerAdmission>(
          400, "rewind wants seconds, 0 to 86400\n",
          "rewind=" + PeerText::from(rewind.value_or("(badly percent-encoded)")).str(),
          Refusal::bad_request);
    }
    decision.rewind_ms = static_cast<std::uint64_t>(*seconds * 1000);
  }
  // Icecast's duplicate-user rule: one connection per user name and mount at a time (HEAD and
  // Safari's two-byte probe, answered above, are no listeners and hold nothing).
  decision.one_connection_per_user = authenticated && !user.empty() && settings &&
                                     settings->listener_users && !settings->allow_duplicate_users;
  decision.outcome = ViewerAdmission::Outcome::join;
  return decision;
}

std::optional<std::string> path_taken_for_source(std::string_view mount,
                                                 const MountLookup& mounts) {
  if (is_reserved_path(mount))
    return "reserved path: the relay's own pages and /admin/ are not mounts";
  if (parse_hls_path(mount)) {
    return "a name ending in /index.m3u8 or /<digits>.ts is a mount's HLS path, not a mount";
  }
  for (std::size_t slash = mount.rfind('/'); slash != 0 && slash != std::string_view::npos;
       slash = mount.rfind('/', slash - 1)) {
    const std::string_view parent = mount.substr(0, slash);
    if (mounts.find(parent))
      return "under the mount " + std::string(parent) + ", whose HLS paths live there";
  }
  return std::nullopt;
}

SourceAdmission admit_source(const RequestHead& head, bool authenticated, const MountLookup& mounts,
                             const SourcePolicy& policy) {
  const std::string& mount = head.path;
  if (policy.draining) {
    SourceAdmission decision;
    decision.refused = draining_refusal();
    return decision;
  }
  if (auto refused = bad_mount_name(mount, policy.max_mount_length)) {
    SourceAdmission decision;
    decision.refused = std::move(*refused);
    return decision;
  }
  if (auto taken = path_taken_for_source(mount, mounts)) {
    return refuse<SourceAdmission>(403, *taken + "\n", *taken, Refusal::mount_in_use,
                                   Refused::Level::warn);
  }
  const MountSettings* settings = mounts.settings(mount);
  SourceAdmission decision;
  if (settings && settings->stream_auth_url && !authenticated) {
    // Icecast's stream_auth: the auth server decides instead of the password.
    decision.outcome = SourceAdmission::Outcome::authenticate;
    return decision;
  }
  const auto authorization = head.header("Authorization");
  if (!authenticated &&
      !basic_credentials_match(authorization, kSourceUser, policy.source_password)) {
    decision = authorization
                   ? refuse<SourceAdmission>(401, "authentication required\n", "wrong credentials",
                                             Refusal::auth_failure, Refused::Level::warn)
                   : refuse<SourceAdmission>(401, "authentication required\n",
                                             "no credentials (a client that asks again with them)",
                                             Refusal::auth_failure, Refused::Level::debug);
    decision.refused.close = false;
    return decision;
  }
  // ffmpeg's -method PUT, GStreamer and curl -T - send chunked bodies; nothing else is coded.
  const auto transfer_coding = head.header("Transfer-Encoding");
  decision.chunked = transfer_coding && equals_ignoring_case(*transfer_coding, "chunked");
  if (transfer_coding && !decision.chunked) {
    return refuse<SourceAdmission>(501, "only the chunked transfer coding is understood\n",
                                   "Transfer-Encoding " + std::string(*transfer_coding),
                                   Refusal::bad_request);
  }
  const auto expect = head.header("Expect");
  decision.continue_expected = expect && equals_ignoring_case(*expect, "100-continue");
  decision.outcome = SourceAdmission::Outcome::accept;
  return decision;
}

}  // namespace ringcast::relay
