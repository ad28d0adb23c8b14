// SPDX-License-Identifier: MIT OR Apache-2.0
// The wakers' bitmap and handler table (sync/waker.hpp, src/waker.cpp) under random makes,
// wakes, resets, runs, poll waker changes and handlers that throw, reset themselves or make
// wakers, decoded from the input, against the model of tests/model/waker_model.hpp (shared
// with the waker model test); then a run that completes must leave nothing undelivered.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_check.hpp"
#include "model/choices.hpp"
#include "model/waker_model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  stakker::model::fuzz_input in(data, size);
  stakker::model::waker_driver<stakker::model::fuzz_input> d(in);
  while (!in.exhausted()) stakker::fuzz::require_agreement(d.step());
  stakker::fuzz::require_agreement(d.drain());
  return 0;
}
