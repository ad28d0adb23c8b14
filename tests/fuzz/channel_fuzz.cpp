// channel<T> on the runtime thread under random sends (through copies of the producer side),
// runs, receivers that throw or close it, closes and new channels, decoded from the input,
// against the model of tests/model/channel_model.hpp (shared with the channel model test);
// at the end every value must have been destroyed exactly once.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_check.hpp"
#include "model/channel_model.hpp"
#include "model/choices.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  stakker::model::fuzz_input in(data, size);
  stakker::testing::counts counts;
  {
    stakker::model::channel_driver<stakker::model::fuzz_input> d(in);
    while (!in.exhausted()) stakker::fuzz::require_agreement(d.step());
    counts = d.counts();
  }
  stakker::fuzz::require(counts.double_destroys == 0, "a value was destroyed twice");
  return 0;
}
