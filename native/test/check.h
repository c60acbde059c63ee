// Minimal checks for the native test drivers: count failures, print them,
// exit non-zero at the end.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>

inline int g_failures = 0;
#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      g_failures++;                                                              \
    }                                                                            \
  } while (0)

inline int finish(const char* name) {
  if (g_failures) {
    std::fprintf(stderr, "%s: %d failure(s)\n", name, g_failures);
    return 1;
  }
  std::printf("%s: ok\n", name);
  return 0;
}

inline std::string fixture(const char* name) {
  const char* dir = std::getenv("KVMLENS_FIXTURES");
  return std::string(dir ? dir : "test/fixtures") + "/" + name;
}
