// SPDX-License-Identifier: MIT OR Apache-2.0
// channel<T> on the runtime thread under random sends (through copies of the producer side),
// runs, receivers that throw or close it, closes and new channels, decoded from the input,
// against the model of tests/model/channel_model.hpp (shared with the channel model test);
// closing it at the end must leave no value alive.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_check.hpp"
#include "model/channel_model.hpp"
#include "model/choices.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  stakker::model::fuzz_input in(data, size);
  stakker::model::channel_driver<stakker::model::fuzz_input> d(in);
  while (!in.exhausted()) stakker::fuzz::require_agreement(d.step());
  stakker::fuzz::require_agreement(d.finish());
  return 0;
}
