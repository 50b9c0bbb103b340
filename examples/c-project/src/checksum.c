#include "util.h"

unsigned checksum(const char *text) {
  unsigned h = 2166136261u;
  while (*text) h = (h ^ (unsigned char)*text++) * 16777619u;
  return h;
}
