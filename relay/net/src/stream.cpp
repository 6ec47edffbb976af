// A mount's ring and its lanes. The writer (the source's worker) commits and services its own
// lane directly; other lanes get one coalesced commit event each through their worker's inbox
// and read the ring under their own gate slot.
#include "ringcast/net/stream.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <optional>

#include "ringcast/core/config.h"
#include "ringcast/http/http_request.h"
#include "ringcast/radio/audio_frames.h"
#include "ringcast/radio/icecast.h"

namespace ringcast::relay {

namespace {
constexpr std::uint32_t kTsPacket = 188;
constexpr std::byte kTsSync{0x47};

// Fallback rates, by content type, for a source that declares none.
constexpr std::uint64_t kAudioGuessKbps = 320;   // the most MP3 allows; AAC/Ogg radio is below
constexpr std::uint64_t kOtherGuessKbps = 3200;  // 4 MiB over 10 s: what a 4 MiB ring held

std::size_t round_up_to_power_of_two(std::size_t n) {
  std::size_t p = 4096;
  while (p < n) p <<= 1;
  return p;
}

std::uint64_t leading_number(std::string_view text) {
  std::uint64_t n = 0;
  std::size_t i = 0;
  while (i < text.size() && text[i] == ' ') ++i;
  const std::size_t first = i;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9' && i - first < 9; ++i) n = n * 10 + (text[i] - '0');
  return n;
}
}  // namespace

bool is_mpeg_ts(std::string_view content_type) {
  return starts_with_ignoring_case(content_type, "video/mp2t") ||
         starts_with_ignoring_case(content_type, "video/mpegts");
}

StreamMetadata stream_metadata_from(const std::vector<std::pair<std::string, std::string>>& headers,
                                    const MountSettings* settings) {
  StreamMetadata metadata;
  // Everything the source says about its stream is shown by every page: PeerText, from here on.
  std::string_view content_type = "audio/mpeg";
  if (settings && settings->content_type) {
    content_type = *settings->content_type;
  } else if (const auto given = std::find_if(headers.begin(), headers.end(),
                                             [](const auto& header) { return equals_ignoring_case(header.first, "Content-Type"); });
             given != headers.end()) {
    content_type = given->second;
  }
  metadata.content_type = PeerText::from(content_type, kMaxContentTypeBytes);
  for (const auto& [name, value] : headers) {
    if (metadata.ice_headers.size() < kMaxIceHeaders &&
        (starts_with_ignoring_case(name, "ice-") || starts_with_ignoring_case(name, "icy-"))) {
      metadata.ice_headers.emplace_back(PeerText::from(name, kMaxIceHeaderNameBytes), PeerText::from(value));
    }
  }
  if (settings) {
    // The mount's own stream-name, genre, ...: in place of what the source said, or added.
    for (auto& [name, value] : settings->ice_overrides()) {
      std::erase_if(metadata.ice_headers,
                    [&](const auto& header) { return equals_ignoring_case(header.first.view(), name); });
      metadata.ice_headers.emplace_back(PeerText::from(name, kMaxIceHeaderNameBytes), PeerText::from(value));
    }
  }
  return metadata;
}

std::uint64_t declared_kbps(const StreamMetadata& metadata) {
  for (const auto& [name, value] : metadata.ice_headers) {
    const std::string_view n = name;
    const auto is = [&](std::string_view wanted) { return equals_ignoring_case(n, wanted); };
    if (is("ice-bitrate") || is("icy-br")) {
      if (const std::uint64_t kbps = leading_number(value)) return kbps;
    }
    if (is("ice-audio-info")) {
      // "ice-samplerate=44100;ice-bitrate=128;ice-channels=2" (libshout); "bitrate=128" (others)
      const std::string_view v = value;
      for (std::size_t at = v.find("bitrate="); at != std::string_view::npos; at = v.find("bitrate=", at + 1)) {
        if (const std::uint64_t kbps = leading_number(v.substr(at + 8))) return kbps;
      }
    }
  }
  return 0;
}

std::size_t ring_bytes_for(const RingSizing& sizing, const StreamMetadata& metadata) {
  if (sizing.explicit_bytes != 0) return round_up_to_power_of_two(sizing.explicit_bytes);
  std::uint64_t kbps = declared_kbps(metadata);
  if (kbps == 0) {
    kbps = starts_with_ignoring_case(metadata.content_type, "audio/") ||
                   starts_with_ignoring_case(metadata.content_type, "application/ogg")
               ? kAudioGuessKbps
               : kOtherGuessKbps;
  }
  const std::uint32_t seconds = sizing.seconds != 0 ? sizing.seconds
                                 : is_mpeg_ts(metadata.content_type) ? RingSizing::kDefaultTsRingSeconds
                                                                     : RingSizing::kDefaultRingSeconds;
  const std::uint64_t bytes = std::min<std::uint64_t>(kbps, 1'000'000) * 1000 / 8 * seconds;
  return round_up_to_power_of_two(std::clamp<std::uint64_t>(bytes, sizing.min_bytes, sizing.max_bytes));
}

Stream::Stream(std::string mount, const FanoutSettings& settings, std::size_t ring_bytes,
               std::size_t workers)
    : mount_(std::move(mount)), settings_(settings), ring_(round_up_to_power_of_two(ring_bytes), workers) {
  if (settings_.max_lag_bytes == 0 || settings_.max_lag_bytes > ring_.capacity() / 2) {
    settings_.max_lag_bytes = ring_.capacity() / 2;
  }
  settings_.max_write_bytes = std::min(settings_.max_write_bytes, ring_.capacity() / 4);
  // A joiner starts well inside the lag limit (half the ring), never at its edge.
  if (settings_.burst_bytes == 0) {
    burst_bytes_ = std::min(FanoutSettings::kDefaultBurstBytes, ring_.capacity() / 4);
    keyframe_join_bytes_ = ring_.capacity() / 4;
  } else {
    burst_bytes_ = keyframe_join_bytes_ = std::min(settings_.burst_bytes, ring_.capacity() / 4);
  }
  Lane::Settings lane;
  lane.capacity = ring_.capacity();
  lane.write_target_bytes = settings_.coalesce_bytes;
  lane.latency_budget_ms = settings_.latency_budget_ms;
  lane.full_audience = settings_.full_delay_audience;
  lane.max_write_bytes = settings_.max_write_bytes;
  lane.max_lag_bytes = settings_.max_lag_bytes;
  lane.slow_action = settings_.slow_action;
  lanes_.reserve(workers);
  for (std::size_t i = 0; i < workers; ++i) lanes_.push_back(std::make_unique<StreamLane>(lane));
}

void Stream::attach_source(std::size_t worker, StreamMetadata metadata) {
  const bool ts = is_mpeg_ts(metadata.content_type);
  const std::uint64_t attached_unix_ms = metadata.started_unix_ms;
  audio_framing_.store(audio_framing_for(metadata.content_type), std::memory_order_relaxed);
  {
    std::lock_guard lock(metadata_mutex_);
    metadata_ = std::move(metadata);
  }
  // The previous source's last packet, if it left one cut short, is never sent.
  const std::uint64_t head = ring_.head();
  framing_cut_from_.store(framing().align_down(head), std::memory_order_relaxed);
  framing_packet_.store(ts ? kTsPacket : 1, std::memory_order_relaxed);
  framing_origin_.store(head, std::memory_order_release);  // pairs: acquire in framing()
  framing_locked_ = !ts;  // the first sync byte of the new source fixes the TS origin
  first_bytes_seen_ = false;
  // The TS structure restarts with the source: the old one's keyframes and tables are not
  // the new one's (a segment still open ends where the old source did).
  ts_source_ = ts;
  VideoIndex* video = video_.load(std::memory_order_relaxed);  // the writer's own
  if (ts && video == nullptr) {
    video_owner_ = std::make_unique<VideoIndex>(settings_.hls_segment_ms, head);
    video_.store(video_owner_.get(), std::memory_order_release);  // pairs: acquire in the readers' loads
  } else if (video != nullptr) {
    video->restart(framing_cut_from_.load(std::memory_order_relaxed), head, attached_unix_ms);
  }
  newest_keyframe_.store(kNoPosition, std::memory_order_relaxed);
  source_connects_.add(1);
  writer_worker_.store(worker, std::memory_order_release);  // pairs: acquire in writer_worker()
  orphaned_since_ms_.store(0, std::memory_order_relaxed);
  has_source_.store(true, std::memory_order_release);  // pairs: acquire in has_source()
}

void Stream::detach_source(std::uint64_t now_ms, std::uint64_t now_unix_ms) {
  if (VideoIndex* video = video_.load(std::memory_order_acquire)) {  // pairs: release in attach_source
    // Detach runs on the registry's caller, the source's loop: still the writer.
    video->end_segment(framing().align_down(ring_.head()), now_unix_ms);
  }
  orphaned_since_ms_.store(now_ms, std::memory_order_relaxed);
  has_source_.store(false, std::memory_order_release);  // pairs: acquire in has_source()
}

void Stream::set_title(PeerText title, PeerText url, std::uint64_t now_unix_ms) {
  auto next = std::make_shared<IcyTitle>();
  next->block = icy_metadata_block(title, url);
  next->title = std::move(title);
  next->url = std::move(url);
  next->updated_unix_ms = now_unix_ms;
  std::shared_ptr<const IcyTitle> old;
  {
    std::lock_guard lock(title_mutex_);
    old = std::exchange(title_, std::move(next));
  }  // the old title is let go outside the lock (a listener's write may still hold it)
}

StreamMetadata Stream::metadata() const {
  std::lock_guard lock(metadata_mutex_);
  return metadata_;
}

Framing Stream::framing() const {
  const std::uint64_t origin = framing_origin_.load(std::memory_order_acquire);  // pairs: attach
  return Framing{origin, framing_packet_.load(std::memory_order_relaxed),
                 framing_cut_from_.load(std::memory_order_relaxed)};
}

RingView Stream::ring_view() const {
  // Framing first: a head read after it is never older than the origin it names. And the origin
  // again after head: a source that attached in between (its origin is stored before its first
  // commit) would otherwise leave a head of the new source with the old one's origin, and a
  // burst could reach back across the change (invariant 1).
  for (;;) {
    const Framing framing = this->framing();
    const std::uint64_t head = ring_.head();
    if (framing_origin_.load(std::memory_order_acquire) != framing.origin) continue;  // pairs: attach
    return RingView{head, ring_.tail(), framing, newest_keyframe_.load(std::memory_order_relaxed)};
  }
}

std::uint64_t Stream::window_floor(std::uint64_t head) const {
  const std::uint64_t half = ring_.capacity() / 2;
  return std::max(head > half ? head - half : 0, ring_.tail());
}

std::uint64_t Stream::eviction_threshold() const {
  // A viewer whose kernel has taken nothing of the last 3/4 ring is stalled: closing it now
  // keeps the writer from ever running into its gate.
  const std::uint64_t head = ring_.head();
  const std::uint64_t margin = eviction_margin();
  return head > margin ? head - margin : 0;
}

std::span<std::byte> Stream::reserve_for_source(std::size_t wanted, LoopHost& writer) {
  const std::uint64_t head = ring_.head();
  const std::size_t to_buffer_end = ring_.capacity() - (head & (ring_.capacity() - 1));
  wanted = std::min({wanted, to_buffer_end, ring_.capacity() / 4});
  auto span = ring_.writable_span(wanted);
  if (span.size() == wanted) return span;

  // Short of room: the gates of some lanes hold the writer back.
  const std::uint64_t needed = head + wanted - ring_.capacity();
  const std::size_t own = writer.index();
  if (ring_.gate(own) < needed) make_room(writer, needed);
  for (std::size_t worker = 0; worker < lanes_.size(); ++worker) {
    // One request at a time per lane (acq_rel: pairs with the lane's exchange(false)).
    if (worker != own && ring_.gate(worker) < needed &&
        !lanes_[worker]->make_room_pending.exchange(true, std::memory_order_acq_rel)) {
      writer.post_to(worker, LoopEvent{LoopEvent::Kind::make_room, -1, shared_from_this(), needed});
    }
  }
  return ring_.writable_span(wanted);
}

void Stream::commit_from_source(std::size_t n, LoopHost& writer) {
  const std::uint64_t position = ring_.head();
  ring_.commit(n);
  bytes_in_.add(n);
  last_commit_ms_.set(writer.now_us() / 1000);
  if (ts_source_) feed_video(position, n, writer.now_unix_ms());
  if (!framing_locked_) lock_ts_framing();
  if (const std::uint64_t origin = framing_origin_.load(std::memory_order_relaxed);  // writer's own
      !first_bytes_seen_ && framing_locked_ && ring_.head() >= origin + 2) {
    // The writer reads its own ring: nothing else writes it.
    const auto* data = ring_.data();
    const std::size_t mask = ring_.capacity() - 1;
    first_bytes_.store(static_cast<std::uint16_t>((std::to_integer<unsigned>(data[origin & mask]) << 8) |
                                                  std::to_integer<unsigned>(data[(origin + 1) & mask])),
                       std::memory_order_relaxed);
    first_bytes_seen_ = true;
  }
  const std::size_t own = writer.index();
  for (std::size_t worker = 0; worker < lanes_.size(); ++worker) {
    StreamLane& lane = *lanes_[worker];
    if (lane.viewer_count.load(std::memory_order_relaxed) == 0) continue;
    if (worker == own) {
      on_commit_event(writer);
    } else if (!lane.notify_pending.exchange(true, std::memory_order_acq_rel)) {
      // acq_rel: pairs with the lane's exchange(false) before it reads head.
      writer.post_to(worker, LoopEvent{LoopEvent::Kind::commit, -1, shared_from_this(), 0});
    }
  }
}

void Stream::lock_ts_framing() {
  // Find the first sync byte that a second one follows 188 bytes later: a packet boundary.
  const std::uint64_t head = ring_.head();
  const std::uint64_t origin = framing_origin_.load(std::memory_order_relaxed);  // writer's own
  const auto* data = ring_.data();
  const std::size_t mask = ring_.capacity() - 1;
  for (std::uint64_t pos = origin; pos + kTsPacket < head && pos - origin < kTsPacket; ++pos) {
    if (data[pos & mask] == kTsSync && data[(pos + kTsPacket) & mask] == kTsSync) {
      framing_origin_.store(pos, std::memory_order_release);  // pairs: acquire in framing()
      framing_locked_ = true;
      return;
    }
  }
  if (head - origin > 2 * kTsPacket) framing_locked_ = true;  // not TS after all: keep the origin
}

JoinPoint Stream::add_viewer(LoopHost& host, LaneViewer& viewer, const JoinRequest& request) {
  StreamLane& lane = *lanes_[host.index()];
  if (lane.held_source != nullptr) {
    // The joiner's burst ends at what the source sent until now, not at the last read.
    lane.held_source->read_now();
    // The first viewer: the lane has no wheel yet to read the source for it. As bytes arrive
    // until the loop's next review (source_hold.h).
    if (lane.lane.size() == 0 && lane.held_source != nullptr) lane.held_source->release();
  }
  const RingView view = ring_view();
  JoinOptions options{request.metaint, request.until_block};
  JoinPoint join;
  if (auto keyframe = keyframe_join(view, request, host.now_unix_ms())) {
    join = std::move(*keyframe);
    // An ICY listener counts the prefix in its first interval (ffmpeg asks for ICY by
    // default); an interval too short to hold it gets no prefix (the stream's own tables follow).
    if (request.metaint != 0 && join.prefix) {
      if (request.metaint > join.prefix->size) {
        options.until_block = request.metaint - static_cast<std::uint32_t>(join.prefix->size);
      } else {
        join.prefix.reset();
      }
    }
    // A timeshifted viewer may stay as far behind as it started (the window, half the ring),
    // and an eighth of the ring more, before it is slow; stalled writes are evicted at 3/4.
    if (request.rewind_ms) options.max_lag_bytes = ring_.capacity() / 2 + ring_.capacity() / 8;
  } else {
    const std::size_t burst = request.moved ? std::min(kMoveBackBytes, burst_bytes_) : burst_bytes_;
    std::uint64_t from = relay::join_position(view.head, view.oldest, burst, view.framing);
    if (request.not_before && *request.not_before > from) {
      from = std::min(view.framing.align_up(*request.not_before), view.framing.align_down(view.head));
    }
    join.position = audio_frame_at_or_after(host.index(), from, view.head);
  }
  join.id = lane.lane.add(join.position, options);
  if (lane.sessions.size() <= join.id) lane.sessions.resize(join.id + 1, nullptr);
  lane.sessions[join.id] = &viewer;
  lane.viewer_count.store(lane.viewer_count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  lane.joins.add(1);
  const std::uint64_t total = viewer_count();
  std::uint64_t peak = peak_viewers_.load(std::memory_order_relaxed);
  while (total > peak && !peak_viewers_.compare_exchange_weak(peak, total, std::memory_order_relaxed)) {
  }
  return join;
}

std::optional<JoinPoint> Stream::keyframe_join(const RingView& view, const JoinRequest& request,
                                               std::uint64_t now) {
  const VideoIndex* video = video_.load(std::memory_order_acquire);  // pairs: release in attach_source
  if (video == nullptr) return std::nullopt;
  std::optional<VideoIndex::Join> keyframe;
  if (request.rewind_ms) {
    keyframe = video->keyframe_before(now > *request.rewind_ms ? now - *request.rewind_ms : 0, window_floor(view.head));
  } else {
    keyframe = video->newest_keyframe(std::max({view.head > keyframe_join_bytes_ ? view.head - keyframe_join_bytes_ : 0,
                                                view.oldest, request.not_before.value_or(0)}));
  }
  // The keyframe's packet is committed (the tracker saw the sync byte after it) and the
  // source's current framing holds it.
  if (!keyframe || keyframe->position < view.framing.origin || keyframe->position >= view.head) {
    return std::nullopt;
  }
  JoinPoint join;
  join.position = keyframe->position;
  join.prefix = std::move(keyframe->prefix);
  join.keyframe = true;
  join.behind_ms = now > keyframe->wall_ms ? now - keyframe->wall_ms : 0;
  return join;
}

std::uint64_t Stream::audio_frame_at_or_after(std::size_t worker, std::uint64_t position,
                                              std::uint64_t head) {
  const AudioFraming framing = audio_framing_.load(std::memory_order_relaxed);
  if (framing == AudioFraming::none || position >= head) return position;
  // Read under this loop's gate, as a write would: pin, look, then the lane's own gate again.
  if (!ring_.pin(worker, position)) return position;
  std::array<std::byte, kFrameSearchBytes> window;
  const std::uint64_t end = std::min<std::uint64_t>(head, position + window.size());
  const ringbuf::Views views = ring_.pinned_views(position, end);
  std::size_t filled = 0;
  for (std::size_t i = 0; i < views.count; ++i) {
    std::memcpy(window.data() + filled, ring_.data() + views.parts[i].offset, views.parts[i].length);
    filled += views.parts[i].length;
  }
  ring_.release(worker, lanes_[worker]->lane.gate());
  const auto frame = first_frame(framing, std::span(window.data(), filled));
  return frame ? position + *frame : position;
}

void Stream::start_viewer(LoopHost& host, ViewerId viewer) {
  StreamLane& lane = *lanes_[host.index()];
  lane.lane.start(viewer, ring_view(), lane.actions);
  apply(host, lane);
}

void Stream::pause_viewer(LoopHost& host, ViewerId viewer) {
  lanes_[host.index()]->lane.pause(viewer);
}

void Stream::hold_source(LoopHost& writer, HeldSource* source) {
  StreamLane& lane = *lanes_[writer.index()];
  lane.held_source = source;
  lane.lane.hold_source(source != nullptr, writer.now_us());
  if (!lane.applying) apply(writer, lane);  // schedules the wheel's next tick
}

void Stream::remove_viewer(LoopHost& host, ViewerId viewer) {
  StreamLane& lane = *lanes_[host.index()];
  lane.lane.remove(viewer);
  lane.sessions[viewer] = nullptr;
  lane.viewer_count.store(lane.viewer_count.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  // The viewer's in-flight write no longer holds the gate (its fd is closed).
  if (!lane.applying) apply(host, lane);
}

void Stream::viewer_write_done(LoopHost& host, ViewerId viewer) {
  StreamLane& lane = *lanes_[host.index()];
  lane.lane.write_done(viewer, ring_view(), lane.actions);
  apply(host, lane);
}

std::size_t Stream::viewer_count() const {
  std::size_t total = 0;
  for (const auto& lane : lanes_) total += lane->viewer_count.load(std::memory_order_relaxed);
  return total;
}

void Stream::on_commit_event(LoopHost& host) {
  StreamLane& lane = *lanes_[host.index()];
  if (lane.lane.size() == 0) return;
  const RingView view = ring_view();
  lane.lane.commit(view, host.load(), host.now_us(), lane.actions);
  evict_if_lagging(host, lane);
  apply(host, lane);
}

void Stream::on_tick(LoopHost& host, std::uint64_t due_us) {
  StreamLane& lane = *lanes_[host.index()];
  if (lane.scheduled_us != due_us) return;  // superseded by an earlier tick
  // A held source's bytes are read now, for the slots this tick writes; while this tick is
  // still the one scheduled, the commit they bring asks for no second tick at the same time.
  if (lane.held_source != nullptr) lane.held_source->read_now();
  lane.scheduled_us = 0;
  const std::uint64_t now = host.now_us();
  lane.lane.tick(ring_view(), host.load(), now, lane.actions);
  host.note_period(lane.lane.period_us());
  lane.period_us.store(lane.lane.period_us(), std::memory_order_relaxed);
  evict_if_lagging(host, lane);
  apply(host, lane);
}

void Stream::make_room(LoopHost& host, std::uint64_t needed) {
  StreamLane& lane = *lanes_[host.index()];
  evict_stalled(host, lane, needed);
  apply(host, lane);
}

void Stream::evict_if_lagging(LoopHost& host, StreamLane& lane) {
  const std::uint64_t threshold = eviction_threshold();
  if (lane.lane.gate() < threshold) evict_stalled(host, lane, threshold);
}

void Stream::evict_stalled(LoopHost&, StreamLane& lane, std::uint64_t below) {
  // What the kernel took since the lane last heard (write_queue_size), then the lane's rule.
  lane.lane.for_each_in_flight([&](ViewerId id, std::uint64_t from) {
    if (from < below && lane.sessions[id] != nullptr) {
      lane.lane.progressed(id, lane.sessions[id]->accepted_position());
    }
  });
  lane.lane.evict_below(below, lane.actions);
}

void Stream::end_lane(LoopHost& host) {
  StreamLane& lane = *lanes_[host.index()];
  lane.lane.finish(ring_view(), lane.actions);
  apply(host, lane);
}

void Stream::apply(LoopHost& host, StreamLane& lane) {
  if (lane.applying) return;  // the outer apply() picks up what was added
  lane.applying = true;
  const std::size_t worker = host.index();
  const RingView view = ring_view();  // one snapshot for the batch; a lap is checked by the pin
  // Index, not iterator: write results add actions as the list is walked.
  for (std::size_t i = 0; i < lane.actions.size(); ++i) {
    const LaneAction action = lane.actions[i];
    LaneViewer* session = action.viewer < lane.sessions.size() ? lane.sessions[action.viewer] : nullptr;
    if (session == nullptr) continue;  // closed by an earlier action
    switch (action.kind) {
      case LaneAction::Kind::write: {
        if (lane.lane.closing(action.viewer)) break;  // evicted after it was decided
        const WriteResult result =
            session->write_views(action.from, action.to, action.block_after, view.head);
        if (result.outcome == WriteResult::Outcome::lapped) {
          lane.lane.lapped(action.viewer, ring_view(), lane.actions);  // the live edge now
        } else if (result.outcome == WriteResult::Outcome::written) {
          if (result.done) {
            lane.lane.wrote(action.viewer, action.to, view, lane.actions);
          } else {
            lane.lane.progressed(action.viewer, result.accepted);  // in flight until write_done
          }
        }
        // closed: the connection is gone and remove_viewer() ran
        break;
      }
      case LaneAction::Kind::skip:
        session->skipped(action.to - action.from);
        break;
      case LaneAction::Kind::close:
        session->close_slow(action.reason);
        break;
      case LaneAction::Kind::finish:
        session->finish();
        break;
    }
  }
  lane.actions.clear();
  lane.applying = false;
  // Every write decided and not yet done is at or above the lane's gate, and each was pinned
  // before it was read: publishing the gate now never uncovers an in-flight write.
  // The slot may differ from what was published last: pins lower it as writes start.
  const std::uint64_t gate = lane.lane.gate();
  const std::uint64_t slot = ring_.gate(worker);
  if (gate != slot) {
    ring_.release(worker, gate);
    // Room was made: a source of this mount paused on this loop may read again.
    if (gate > slot && writer_worker() == worker) host.resume_sources(this);
  }
  if (const auto next = lane.lane.next_tick_us()) {
    if (lane.scheduled_us == 0 || *next < lane.scheduled_us) {
      lane.scheduled_us = *next;
      host.schedule_tick(shared_from_this(), *next);
    }
  }
}

void Stream::feed_video(std::uint64_t position, std::size_t n, std::uint64_t now) {
  VideoIndex& video = *video_.load(std::memory_order_relaxed);  // the writer's own
  // The committed bytes are contiguous in memory: reserve_for_source never crosses the end.
  const std::span<const std::byte> bytes(ring_.data() + (position & (ring_.capacity() - 1)), n);
  if (const auto newest = video.feed(position, bytes, now)) {
    newest_keyframe_.store(*newest, std::memory_order_relaxed);  // see ring_view()
  }
}

std::optional<std::string> Stream::hls_playlist(std::string_view segment_prefix) const {
  const VideoIndex* video = video_.load(std::memory_order_acquire);  // pairs: release in attach_source
  if (video == nullptr) return std::nullopt;
  // Listed: what the ring will hold a while yet. Half the ring behind head leaves a quarter of
  // a ring before a reader of it would be evicted.
  const std::uint64_t head = ring_.head();
  return video->playlist(head, window_floor(head), eviction_margin(), segment_prefix);
}

std::optional<SegmentRead> Stream::hls_segment(std::uint64_t sequence) const {
  const VideoIndex* video = video_.load(std::memory_order_acquire);  // pairs: release in attach_source
  if (video == nullptr) return std::nullopt;
  // Servable while a reader starting now stays clear of eviction; the lane closes it if the
  // writer overtakes it anyway (a stalled client), and the client sees a short body.
  return video->segment(sequence, std::max(eviction_threshold(), ring_.tail()));
}

Stream::VideoStats Stream::video_stats() const {
  const VideoIndex* video = video_.load(std::memory_order_acquire);  // pairs: release in attach_source
  return video == nullptr ? VideoStats{} : video->stats(window_floor(ring_.head()));
}

std::optional<ViewerId> Stream::add_segment_reader(LoopHost& host, LaneViewer& reader,
                                                   const SegmentRead& read) {
  StreamLane& lane = *lanes_[host.index()];
  if (read.from < eviction_threshold() || read.from < ring_.tail()) return std::nullopt;
  JoinOptions options;
  options.end = read.to;
  const ViewerId id = lane.lane.add(read.from, options);
  if (lane.sessions.size() <= id) lane.sessions.resize(id + 1, nullptr);
  lane.sessions[id] = &reader;
  return id;
}

void Stream::remove_segment_reader(LoopHost& host, ViewerId reader) {
  StreamLane& lane = *lanes_[host.index()];
  lane.lane.remove(reader);
  lane.sessions[reader] = nullptr;
  if (!lane.applying) apply(host, lane);
}

void Stream::sample_rate(std::uint64_t now_ms) {
  // From commit to commit, not sample to sample: a source read on demand (source_hold.h)
  // commits a second or two of its bytes at once, and a window ending between two such reads
  // would see none of them, the next one twice as many. A source quiet for a while is measured
  // up to now, so its rate falls.
  const std::uint64_t at = last_commit_ms_.get();
  const std::uint64_t bytes = bytes_in_.get();
  const std::uint64_t end = at != 0 && now_ms < at + kRateQuietMs ? at : now_ms;
  if (rate_sample_ms_ == 0 || end < rate_sample_ms_) {
    rate_sample_ms_ = end;
    rate_sample_bytes_ = bytes;
    return;
  }
  if (end < rate_sample_ms_ + kRateWindowMs) return;
  ingest_bps_.store((bytes - rate_sample_bytes_) * 8 * 1000 / (end - rate_sample_ms_),
                    std::memory_order_relaxed);
  rate_sample_ms_ = end;
  rate_sample_bytes_ = bytes;
}

}  // namespace ringcast::relay
