/*
 * Hardware oracle for the exhaustive codec check: x86 F16C conversion, one instruction per value.
 *   f16c-oracle encode START COUNT  -> COUNT little-endian uint16: vcvtps2ph (round to nearest
 *                                      even) of the float32 bit patterns START .. START+COUNT-1
 *   f16c-oracle decode              -> 65536 little-endian uint32: vcvtph2ps of every float16 code
 * Built by check/exhaustive.ts with `cc -O2 -mf16c`; needs a CPU with F16C.
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "encode") == 0) {
    uint64_t start = strtoull(argv[2], 0, 10), count = strtoull(argv[3], 0, 10);
    uint16_t *out = malloc(count * 2);
    for (uint64_t i = 0; i < count; i++) {
      uint32_t bits = (uint32_t)(start + i);
      float value;
      memcpy(&value, &bits, 4);
      out[i] = _cvtss_sh(value, _MM_FROUND_TO_NEAREST_INT);
    }
    fwrite(out, 2, count, stdout);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "decode") == 0) {
    for (uint32_t code = 0; code < 65536; code++) {
      float value = _cvtsh_ss((uint16_t)code);
      uint32_t bits;
      memcpy(&bits, &value, 4);
      fwrite(&bits, 4, 1, stdout);
    }
    return 0;
  }
  fprintf(stderr, "usage: f16c-oracle encode START COUNT | f16c-oracle decode\n");
  return 2;
}
