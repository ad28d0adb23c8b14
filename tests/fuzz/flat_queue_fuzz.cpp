// SPDX-License-Identifier: MIT OR Apache-2.0
// The runtime's main queue (detail::flat_queue) under random pushes, runs, throwing and
// re-entrant closures, destroy_all, rewind and trim decoded from the input, against the
// deque model of tests/model/flat_queue_model.hpp (shared with the model test); then
// destroying what is left must leave no closure alive.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_check.hpp"
#include "model/choices.hpp"
#include "model/flat_queue_model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  stakker::model::fuzz_input in(data, size);
  stakker::model::flat_queue_driver<stakker::model::fuzz_input> d(in);
  while (!in.exhausted()) stakker::fuzz::require_agreement(d.step());
  stakker::fuzz::require_agreement(d.finish());
  return 0;
}
