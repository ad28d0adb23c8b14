// SPDX-License-Identifier: MIT OR Apache-2.0
// fwd_stream: a fwd feeding an awaitable reader (Fwd → Stream), with a `more` callback
// for refills.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

#include "stakker/coro/async_generator.hpp"
#include "stakker/coro/detail/pipe_node.hpp"
#include "stakker/coro/stream_item.hpp"
#include "stakker/fwd.hpp"

namespace stakker::coro {

namespace detail {

// Shared (counted, not atomically) by the reader and the producer fwd's target, which is
// destroyed with the last copy of that fwd.
template <class T>
struct stream_state {
  std::uint32_t refs = 2;
  core* c;
  std::deque<T> buffer;
  std::size_t high_water = 0;
  bool ended = false;        // nullopt received
  bool failed = false;       // the last fwd went before the end
  bool fail_given = false;   // result mode: actor_fail handed to the reader
  bool reader_gone = false;  // later values are dropped
  bool drop_mode;
  wake_node* waiting = nullptr;  // the reader's suspension, until woken
  fwd<> more;

  stream_state(core& cc, fwd<> m, bool drop) : c(&cc), drop_mode(drop), more(std::move(m)) {}

  void wake() {
    if (waiting == nullptr) return;
    wake_node* n = std::exchange(waiting, nullptr);
    if (failed && buffer.empty() && !ended && !reader_gone) n->drop_root = drop_mode;
    schedule(n);
    release(n);
  }
};

template <class T>
void release(stream_state<T>* s) noexcept {
  if (--s->refs == 0) {
    if (s->waiting != nullptr) release(s->waiting);
    delete s;
  }
}

// The producer fwd's target.
template <class T>
struct stream_sink {
  stream_state<T>* s;
  explicit stream_sink(stream_state<T>* st) noexcept : s(st) {}
  stream_sink(stream_sink&& o) noexcept : s(std::exchange(o.s, nullptr)) {}
  stream_sink(const stream_sink&) = delete;
  ~stream_sink() {
    if (s == nullptr) return;
    if (!s->ended && !s->reader_gone) {
      s->failed = true;
      s->wake();
    }
    release(s);
  }
  void operator()(std::optional<T> v) const {
    if (s->reader_gone || s->ended) return;  // nothing reads it / values after the end
    if (v) {
      s->buffer.push_back(std::move(*v));
      s->high_water = std::max(s->high_water, s->buffer.size());
    } else {
      s->ended = true;
    }
    s->wake();
  }
};

template <class T, bool Result>
class stream_reader {
 public:
  // What next() gives: drop mode, the value or std::nullopt at the end; result mode, a
  // stream_item (a value, the one failure, or the end).
  using item_type = std::conditional_t<Result, stream_item<T>, std::optional<T>>;

  explicit stream_reader(stream_state<T>* s) noexcept : s_(s) {}
  stream_reader(stream_reader&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  stream_reader& operator=(stream_reader&& o) noexcept {
    if (this != &o) {
      close();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  ~stream_reader() { close(); }

  class next_awaiter {
   public:
    using stakker_awaitable = void;
    // Holds a reference to the state: user code run inside the await (`more`, or whatever
    // owns the reader) may destroy the reader meanwhile; this next() then gives the end.
    explicit next_awaiter(stream_state<T>* s) noexcept : s_(s) { ++s->refs; }
    next_awaiter(next_awaiter&& o) noexcept
        : s_(std::exchange(o.s_, nullptr)), n_(std::exchange(o.n_, nullptr)) {}
    ~next_awaiter() {
      if (s_ == nullptr) return;
      if (n_ != nullptr) {
        if (s_->waiting == n_) release(std::exchange(s_->waiting, nullptr));
        disarm(n_);
      }
      release(s_);
    }

    bool await_ready() {
      if (ready()) return true;
      if (s_->more) {
        fwd<> more = s_->more;  // the call may drop the stream's own copy
        more();                 // may refill at once
      }
      return ready();
    }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      n_ = recycled_new<plain_wake_node>(*s_->c);
      n_->handle = h;
      set_root(n_, root_of(h));
      add_ref(n_);
      s_->waiting = n_;
      if (s_->failed) s_->wake();  // drop mode, with nothing left to read
    }
    item_type await_resume() {
      if (s_->reader_gone) return item_type();
      if (!s_->buffer.empty()) {
        item_type v(std::move(s_->buffer.front()));
        s_->buffer.pop_front();
        return v;
      }
      if (s_->ended) return item_type();
      // failed
      if constexpr (Result) {
        if (s_->fail_given) return item_type();
        s_->fail_given = true;
        return item_type(actor_fail{});
      } else {
        throw task_dropped();  // only outside a spawned task (inside one it was dropped)
      }
    }

   private:
    bool ready() const noexcept {
      return !s_->buffer.empty() || s_->ended || s_->reader_gone || (Result && s_->failed);
    }
    stream_state<T>* s_;
    wake_node* n_ = nullptr;
  };

  // The next item. Drop mode: std::optional<T>, std::nullopt at the end. Result mode:
  // stream_item<T>: the values, then, if the producer went before the end, one failed
  // item, then ended items. Calls `more` each time it finds the buffer empty. One next()
  // at a time.
  next_awaiter next() {
    if (s_ == nullptr) throw std::logic_error("stakker::coro::fwd_stream: empty reader");
    return next_awaiter(s_);
  }

  // The most items that were ever buffered at once.
  std::size_t high_water_mark() const noexcept { return s_ ? s_->high_water : 0; }
  std::size_t buffered() const noexcept { return s_ ? s_->buffer.size() : 0; }

 private:
  // A next() still waiting (the reader was destroyed by other code than the task reading
  // it) is woken, through the queue, and gives the end.
  void close() noexcept {
    if (s_ == nullptr) return;
    s_->reader_gone = true;
    s_->buffer.clear();
    s_->more = fwd<>();
    s_->wake();
    release(std::exchange(s_, nullptr));
  }
  stream_state<T>* s_;
};

template <class T, bool Result>
std::pair<stream_reader<T, Result>, fwd<std::optional<T>>> make_fwd_stream(core& c, fwd<> more) {
  auto* s = new stream_state<T>(c, std::move(more), !Result);
  return {stream_reader<T, Result>(s), fwd<std::optional<T>>(stream_sink<T>(s))};
}

}  // namespace detail

// The reader a fwd_stream gives: `co_await reader.next()` (see detail::stream_reader) in
// drop mode, and its result-mode twin.
template <class T>
using stream_reader = detail::stream_reader<T, false>;
template <class T>
using stream_result_reader = detail::stream_reader<T, true>;

// `auto [reader, f] = fwd_stream<T>(core, more)`: values passed to `f` (a fwd, copy it
// freely) are buffered until `co_await reader.next()` takes them; `f(std::nullopt)` ends
// the stream. `more()` is called whenever the reader finds the buffer empty, so a producer
// can preload everything, refill in batches, or send one value per call (a pull pipe).
// Wake-ups are queued on `c`, never inline. Drop mode: if the last copy of `f` is
// destroyed before the end, the reading task is dropped once it has read what was
// buffered. Destroying the reader makes `f` a no-op; a next() pending on it (the reader was
// destroyed by `more` or by whatever else owns it) gives the end, resumed from the queue.
template <class T>
std::pair<stream_reader<T>, fwd<std::optional<T>>> fwd_stream(core& c, fwd<> more = {}) {
  return detail::make_fwd_stream<T, false>(c, std::move(more));
}

// Result mode: `next()` gives stream_item<T>: the values, then, if the last fwd went
// before the end, one failed item (its error() an actor_fail), then ended items.
template <class T>
std::pair<stream_result_reader<T>, fwd<std::optional<T>>> fwd_stream_result(core& c,
                                                                            fwd<> more = {}) {
  return detail::make_fwd_stream<T, true>(c, std::move(more));
}

// The stream as an async_generator<T> (drop mode), for code written against generators:
// `co_await gen.next()`, or spawn_stream into a fwd. The reader moves into the generator's
// frame; the generator ends where the stream does, and destroying it closes the reader.
template <class T>
async_generator<T> as_generator(stream_reader<T> reader) {
  while (std::optional<T> v = co_await reader.next()) co_yield std::move(*v);
}

}  // namespace stakker::coro
