// A plain main for the fuzz target (no libFuzzer needed): replays every file of the given corpus
// directories (or files), then N inputs made by a seeded generator, so the same target runs as an
// ordinary ctest with any compiler.
//   sq_fuzz_replay [--random N] [--seed S] [--max-len L] PATH...
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" void sq_fuzz_report(FILE* f);

namespace {
std::vector<uint8_t> read_file(const std::string& path) {
  std::vector<uint8_t> v;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    uint8_t buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) v.insert(v.end(), buf, buf + n);
    std::fclose(f);
  }
  return v;
}
void collect(const std::string& path, std::vector<std::string>* out) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    if (DIR* d = opendir(path.c_str())) {
      std::vector<std::string> names;
      while (dirent* e = readdir(d))
        if (e->d_name[0] != '.') names.push_back(path + "/" + e->d_name);
      closedir(d);
      std::sort(names.begin(), names.end());
      for (auto& n : names) collect(n, out);
    }
  } else {
    out->push_back(path);
  }
}
}  // namespace

int main(int argc, char** argv) {
  long random = 0, max_len = 256;
  uint64_t seed = 1;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--random") && i + 1 < argc) random = std::atol(argv[++i]);
    else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 0);
    else if (!std::strcmp(argv[i], "--max-len") && i + 1 < argc) max_len = std::atol(argv[++i]);
    else collect(argv[i], &files);
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& f : files) {
    std::vector<uint8_t> v = read_file(f);
    LLVMFuzzerTestOneInput(v.data(), v.size());
  }
  // Random inputs: mostly mutations of corpus files (a few bytes changed, some appended), some raw.
  std::mt19937_64 g(seed);
  std::vector<std::vector<uint8_t>> corpus;
  for (const auto& f : files) corpus.push_back(read_file(f));
  for (long i = 0; i < random; ++i) {
    std::vector<uint8_t> in;
    if (!corpus.empty() && g() % 4 != 0) {
      in = corpus[g() % corpus.size()];
      const int edits = 1 + static_cast<int>(g() % 6);
      for (int e = 0; e < edits; ++e) {
        if (!in.empty() && g() % 3 != 0) in[g() % in.size()] = static_cast<uint8_t>(g());
        else in.push_back(static_cast<uint8_t>(g()));
      }
    } else {
      in.resize(g() % static_cast<uint64_t>(max_len));
      for (auto& b : in) b = static_cast<uint8_t>(g());
    }
    if (const char* dump = std::getenv("SQ_FUZZ_DUMP")) {  // the input about to run, for a finding to keep
      if (FILE* f = std::fopen(dump, "wb")) {
        std::fwrite(in.data(), 1, in.size(), f);
        std::fclose(f);
      }
    }
    LLVMFuzzerTestOneInput(in.data(), in.size());
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  sq_fuzz_report(stdout);
  std::printf("sq_fuzz_replay: %zu corpus files and %ld random inputs, no finding (%.1f s)\n", files.size(), random, s);
  return 0;
}
