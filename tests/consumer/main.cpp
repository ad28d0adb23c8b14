// Shared by both consumer projects: the smallest program that uses the installed or
// add_subdirectory'd library. Exits 0 only if the deferred closure really ran.
#include <stakker/stakker.hpp>

int main() {
  stakker::runtime rt;
  bool ran = false;
  rt.defer([&ran](stakker::core&) { ran = true; });
  rt.run(rt.now(), false);
  return ran ? 0 : 1;
}
