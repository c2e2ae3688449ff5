// A stand-in for libFuzzer's driver when the compiler has none (g++ builds):
// runs the target over every file given on the command line, then over
// deterministic random mutations of them. Usage: replay FILE... [-runs=N]
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  long runs = 100000;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "-runs=", 6) == 0) {
      runs = std::atol(argv[i] + 6);
    } else if (argv[i][0] != '-') {
      std::ifstream in(argv[i], std::ios::binary);
      inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  if (inputs.empty()) inputs.emplace_back();
  std::mt19937 random(12345);
  for (const std::string& input : inputs) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  for (long run = 0; run < runs; ++run) {
    std::string mutated = inputs[random() % inputs.size()];
    int edits = 1 + random() % 4;
    for (int e = 0; e < edits; ++e) {
      switch (random() % 3) {
        case 0:
          if (!mutated.empty()) mutated[random() % mutated.size()] = static_cast<char>(random());
          break;
        case 1:
          if (!mutated.empty()) mutated.resize(random() % mutated.size());
          break;
        default:
          mutated.insert(mutated.begin() + (mutated.empty() ? 0 : random() % mutated.size()),
                         static_cast<char>(random()));
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(mutated.data()), mutated.size());
  }
  std::cout << "replayed " << inputs.size() << " inputs and " << runs << " mutations\n";
  return 0;
}
