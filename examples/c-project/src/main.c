#include <stdio.h>
#include "util.h"

int main(void) {
  const char *text = "the cache never breaks a build";
  const double v[] = {1, 2, 3, 4};
  printf("%zu words, checksum %08x, mean %.2f\n", count_words(text), checksum(text), mean(v, 4));
  return 0;
}
