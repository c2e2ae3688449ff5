// Whole-file read and write for tests.
#ifndef KEYBROKER_TESTS_TESTING_FILES_H_
#define KEYBROKER_TESTS_TESTING_FILES_H_

#include <fstream>
#include <iterator>
#include <string>

namespace keybroker::testing {

// The bytes of `path`; empty if it cannot be read.
inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Replaces `path` with `data` (plainly, not atomically).
inline void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_TESTING_FILES_H_
