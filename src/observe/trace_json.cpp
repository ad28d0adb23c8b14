// SPDX-License-Identifier: MIT OR Apache-2.0
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <iterator>
#include <map>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "json_text.hpp"
#include "stakker/observe/trace_json.hpp"

namespace stakker::observe {

namespace {

struct writer {
  fmt::memory_buffer out;
  bool first = true;

  // Starts the next event object: `{` after a comma if needed.
  std::back_insert_iterator<fmt::memory_buffer> next() {
    if (!first) out.push_back(',');
    first = false;
    out.push_back('\n');
    return std::back_inserter(out);
  }
};

double us(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

struct track_key {
  std::uint32_t pid;
  std::uint64_t tid;
  bool operator<(const track_key& o) const noexcept {
    return pid != o.pid ? pid < o.pid : tid < o.tid;
  }
};

}  // namespace

std::string trace_json(std::span<const trace_snapshot> traces) {
  writer w;
  auto it = std::back_inserter(w.out);
  fmt::format_to(it, "{{\"displayTimeUnit\":\"ns\",\"otherData\":{{\"runtimes\":[");
  for (std::size_t i = 0; i < traces.size(); ++i)
    fmt::format_to(it, "{}{{\"runtime\":{},\"recorded\":{},\"overwritten\":{}}}", i ? "," : "",
                   traces[i].runtime, traces[i].recorded, traces[i].overwritten);
  fmt::format_to(it, "]}},\"traceEvents\":[");

  std::int64_t origin = 0;
  for (std::size_t i = 0; i < traces.size(); ++i)
    if (i == 0 || traces[i].started_ns < origin) origin = traces[i].started_ns;

  std::map<track_key, const char*> tracks;  // the type of each actor seen
  std::uint64_t next_flow = 1;
  for (const trace_snapshot& t : traces) {
    const std::uint32_t pid = t.runtime;
    const auto shift = static_cast<std::uint64_t>(t.started_ns - origin);
    tracks.emplace(track_key{pid, 0}, nullptr);
    // The latest queueing at each key (see trace_event::key): where a flow starts.
    struct pending {
      std::uint64_t from;
      std::uint64_t at;
    };
    std::unordered_map<std::uint64_t, pending> queued;
    for (const trace_event& e : t.events) {
      const std::uint64_t at = e.start + shift;
      if (e.actor != 0) {
        auto [pos, added] = tracks.emplace(track_key{pid, e.actor}, e.type);
        if (!added && pos->second == nullptr) pos->second = e.type;
      }
      switch (e.kind) {
        case trace_kind::enqueue:
          queued[e.key] = pending{e.from, at};
          break;
        case trace_kind::call: {
          if (auto q = queued.find(e.key); q != queued.end()) {
            const std::uint64_t id = next_flow++;
            fmt::format_to(w.next(),
                           "{{\"ph\":\"s\",\"cat\":\"flow\",\"name\":\"call\",\"id\":{},\"pid\":{},"
                           "\"tid\":{},\"ts\":{:.3f}}}",
                           id, pid, q->second.from, us(q->second.at));
            fmt::format_to(
                w.next(),
                "{{\"ph\":\"f\",\"bp\":\"e\",\"cat\":\"flow\",\"name\":\"call\",\"id\":{},"
                "\"pid\":{},\"tid\":{},\"ts\":{:.3f}}}",
                id, pid, e.actor, us(at));
            queued.erase(q);
          }
          auto o = w.next();
          fmt::format_to(o, "{{\"ph\":\"X\",\"cat\":\"call\",\"name\":");
          detail::append_json_string(
              w.out, e.name != nullptr ? std::string_view(e.name) : std::string_view("call"));
          fmt::format_to(
              std::back_inserter(w.out),
              ",\"pid\":{},\"tid\":{},\"ts\":{:.3f},\"dur\":{:.3f},\"args\":{{\"actor\":{}}}}}",
              pid, e.actor, us(at), us(e.duration), e.actor);
          break;
        }
        case trace_kind::task:
          fmt::format_to(w.next(),
                         "{{\"ph\":\"X\",\"cat\":\"task\",\"name\":\"task\",\"pid\":{},\"tid\":{},"
                         "\"ts\":{:.3f},\"dur\":{:.3f},\"args\":{{\"chain\":\"{:#x}\"}}}}",
                         pid, e.actor, us(at), us(e.duration), e.key);
          break;
        case trace_kind::timer_set:
          fmt::format_to(
              w.next(),
              "{{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"timer\",\"name\":\"timer set\",\"pid\":{},"
              "\"tid\":{},\"ts\":{:.3f},\"args\":{{\"due_in_ns\":{}}}}}",
              pid, e.actor, us(at), e.count);
          break;
        case trace_kind::timer_fire:
          fmt::format_to(
              w.next(),
              "{{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"timer\",\"name\":\"timers due\",\"pid\":{},"
              "\"tid\":0,\"ts\":{:.3f},\"args\":{{\"count\":{}}}}}",
              pid, us(at), e.count);
          break;
        case trace_kind::loop_wait:
          fmt::format_to(
              w.next(),
              "{{\"ph\":\"X\",\"cat\":\"loop\",\"name\":\"loop wait\",\"pid\":{},\"tid\":0,"
              "\"ts\":{:.3f},\"dur\":{:.3f}}}",
              pid, us(at), us(e.duration));
          break;
        case trace_kind::wake:
        case trace_kind::inbox:
          fmt::format_to(
              w.next(),
              "{{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"cross-thread\",\"name\":\"{}\",\"pid\":{},"
              "\"tid\":0,\"ts\":{:.3f},\"args\":{{\"count\":{}}}}}",
              e.kind == trace_kind::wake ? "wake" : "inbox", pid, us(at), e.count);
          break;
      }
    }
  }
  // Names: each runtime a process, each actor a track, sorted by id.
  std::uint32_t last_pid = 0;
  for (const auto& [k, type] : tracks) {
    if (k.pid != last_pid) {
      fmt::format_to(w.next(),
                     "{{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":{},\"args\":{{\"name\":"
                     "\"runtime {}\"}}}}",
                     k.pid, k.pid);
      last_pid = k.pid;
    }
    fmt::format_to(
        w.next(),
        "{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":{},\"tid\":{},\"args\":{{\"name\":", k.pid,
        k.tid);
    if (k.tid == 0)
      detail::append_json_string(w.out, "runtime (loop, closures, timers)");
    else
      detail::append_json_string(w.out,
                                 fmt::format("{} #{}", type != nullptr ? type : "actor", k.tid));
    fmt::format_to(std::back_inserter(w.out), "}}}}");
    fmt::format_to(w.next(),
                   "{{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":{},\"tid\":{},\"args\":{{"
                   "\"sort_index\":{}}}}}",
                   k.pid, k.tid, k.tid);
  }
  fmt::format_to(std::back_inserter(w.out), "\n]}}\n");
  return fmt::to_string(w.out);
}

void write_trace_json(const std::string& path, std::span<const trace_snapshot> traces) {
  const std::string text = trace_json(traces);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr)
    throw std::system_error(errno, std::generic_category(),
                            "stakker::observe::write_trace_json: cannot open " + path);
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const int err = errno;
  if (std::fclose(f) != 0 || !ok)
    throw std::system_error(ok ? errno : err, std::generic_category(),
                            "stakker::observe::write_trace_json: cannot write " + path);
}

}  // namespace stakker::observe
