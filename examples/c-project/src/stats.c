#include <math.h>
#include "util.h"

double mean(const double *values, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += values[i];
  return n ? sum / (double)n : NAN;
}
