// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/detail/flat_queue.hpp"

#include <cstring>

namespace stakker::detail {

flat_queue::~flat_queue() {
  destroy_all();
  trim(0);
  if (tail_chunk_ != nullptr) ::operator delete(tail_chunk_);
}

void flat_queue::grow() {
  chunk* next = spare_;
  if (next != nullptr) {
    spare_ = next->next_spare;
    --spare_count_;
  } else {
    next = static_cast<chunk*>(::operator new(chunk_bytes));
    ++chunks_;
  }
  if (tail_chunk_ == nullptr) {
    head_ = data(next);
  } else {
    // Link the full chunk to the next one; the reader frees the old chunk as it jumps.
    *reinterpret_cast<thunk*>(tail_) = &jump;
    std::memcpy(tail_ + slot, &next, sizeof next);
    std::memcpy(tail_ + 2 * slot, &tail_chunk_, sizeof tail_chunk_);
  }
  tail_chunk_ = next;
  tail_ = data(next);
  end_ = reinterpret_cast<std::byte*>(next) + chunk_bytes - jump_size;
}

std::byte* flat_queue::jump(flat_queue& q, std::byte* entry, core*) noexcept {
  chunk* next;
  chunk* self;
  std::memcpy(&next, entry + slot, sizeof next);
  std::memcpy(&self, entry + 2 * slot, sizeof self);
  q.head_ = data(next);
  q.release(self);
  return q.head_;
}

void flat_queue::release(chunk* c) noexcept {
  c->next_spare = spare_;
  spare_ = c;
  ++spare_count_;
}

bool flat_queue::run_one(core& c) {
  while (head_ != tail_) {
    thunk fn = *reinterpret_cast<thunk*>(head_);
    fn(*this, head_, &c);
    if (fn != &jump) return true;
  }
  return false;
}

void flat_queue::destroy_all() noexcept {
  while (head_ != tail_) (*reinterpret_cast<thunk*>(head_))(*this, head_, nullptr);
}

void flat_queue::trim(std::size_t keep) noexcept {
  while (spare_count_ > keep) {
    chunk* c = spare_;
    spare_ = c->next_spare;
    --spare_count_;
    --chunks_;
    ::operator delete(c);
  }
}

}  // namespace stakker::detail
