#ifndef UTIL_H
#define UTIL_H
#include <stddef.h>
size_t count_words(const char *text);
unsigned checksum(const char *text);
double mean(const double *values, size_t n);
#endif
