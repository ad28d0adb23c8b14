// SPDX-License-Identifier: MIT OR Apache-2.0
// The TCP read buffer (loop::detail::io_buffer) under random prepare/commit, append, consume,
// clear, release and moves decoded from the input, against a std::string model
// (tests/model/io_buffer_model.hpp, shared with the model test); after each operation the
// chat protocol's line splitter, run over the buffer's data() as the server does, must find
// the same lines as a plain split of the model.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "chat/protocol.hpp"
#include "fuzz/fuzz_check.hpp"
#include "model/choices.hpp"
#include "model/io_buffer_model.hpp"

namespace {

using stakker::fuzz::require;

// The lines chat::for_each_line reports over `data` must be the '\n'-separated lines of
// `model`, in order, and the bytes it says it used must end at the last '\n'.
void check_lines(std::string_view data, const std::string& model) {
  std::size_t start = 0;
  const std::size_t used = chat::for_each_line(data, [&](std::string_view line) {
    const std::size_t nl = model.find('\n', start);
    require(nl != std::string::npos, "for_each_line found a line the model does not have");
    require(line == std::string_view(model).substr(start, nl - start),
            "for_each_line's line differs from the model's");
    start = nl + 1;
    return true;
  });
  require(used == start, "for_each_line's used count is not the end of its last line");
  require(model.find('\n', start) == std::string::npos, "for_each_line missed a line");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  stakker::model::fuzz_input in(data, size);
  // A smaller bound than the model test's: the lines are checked over all of it each step.
  stakker::model::io_buffer_driver<stakker::model::fuzz_input> d(in, 8 * 1024);
  while (!in.exhausted()) {
    stakker::fuzz::require_agreement(d.step());
    check_lines(d.buf().data(), d.expected());
  }
  return 0;
}
