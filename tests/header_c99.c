/* The public header as a C99 program (built with -std=c99 -pedantic -Werror -Wall -Wextra):
 * the whole lifecycle through the C API, with its results checked. Returns 0 on success,
 * non-zero with a printed reason on failure. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "convt/convt.h"

static int failures = 0;

static void fail(const char* what) {
  printf("header_c99: FAILED: %s\n", what);
  ++failures;
}

static int ok(convt_status status, const char* what) {
  if (status != CONVT_OK) {
    printf("header_c99: FAILED: %s returned %s: %s\n", what, convt_status_string(status),
           convt_last_error());
    ++failures;
    return 0;
  }
  return 1;
}

/* Case-insensitive substring search. */
static int mentions(const char* haystack, const char* needle) {
  size_t n = strlen(needle);
  const char* h;
  for (h = haystack; *h != '\0'; ++h) {
    size_t i = 0;
    while (i < n && h[i] != '\0' &&
           tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i])) {
      ++i;
    }
    if (i == n) return 1;
  }
  return 0;
}

int main(void) {
  enum { F = 2, K = 3, C = 1, S = 2, STEPS = 2, OUT_STEPS = (STEPS - 1) * S + K };
  /* Kernel in WOI layout (kernel_size, filters, in_channels): W[t][o][0] at t * F + o. */
  const float kernel[K * F * C] = {1.0f, -1.0f, 2.0f, 0.0f, 3.0f, 1.0f};
  const float bias[F] = {0.5f, -0.5f};
  const float input[STEPS * C] = {1.0f, 2.0f};
  float expected[OUT_STEPS * F];
  float output[OUT_STEPS * F + 1];
  int64_t shape[3] = {0, 0, 0};
  int64_t value = 0;
  int64_t length = 0;
  char name[64];
  convt_layer* layer = NULL;
  convt_status status;
  int j, o, i, t;

  if (convt_version_number() != CONVT_VERSION_NUMBER) fail("convt_version_number() mismatch");
  if (strcmp(convt_version_string(), "1.0.0") != 0) fail("convt_version_string() != 1.0.0");
  if (strcmp(convt_last_error(), "") != 0) fail("convt_last_error() not empty at start");

  if (!ok(convt_layer_create(F, K, &layer), "convt_layer_create")) return 1;
  if (layer == NULL) {
    fail("convt_layer_create gave NULL");
    return 1;
  }

  /* Parameters by int and by string. */
  ok(convt_layer_set_int(layer, CONVT_PARAM_STRIDES, S), "set_int(STRIDES)");
  ok(convt_layer_set_string(layer, CONVT_PARAM_PADDING, "VALID"), "set_string(PADDING)");
  ok(convt_layer_set_string(layer, CONVT_PARAM_ACTIVATION, "relu"), "set_string(ACTIVATION)");
  ok(convt_layer_set_int(layer, CONVT_PARAM_DATA_FORMAT, CONVT_CHANNELS_LAST),
     "set_int(DATA_FORMAT)");
  ok(convt_layer_set_string(layer, CONVT_PARAM_NAME, "c99_layer"), "set_string(NAME)");
  if (ok(convt_layer_get_int(layer, CONVT_PARAM_STRIDES, &value), "get_int(STRIDES)") &&
      value != S) {
    fail("get_int(STRIDES) != 2");
  }
  if (ok(convt_layer_get_int(layer, CONVT_PARAM_ACTIVATION, &value), "get_int(ACTIVATION)") &&
      value != CONVT_ACTIVATION_RELU) {
    fail("get_int(ACTIVATION) != CONVT_ACTIVATION_RELU");
  }
  if (ok(convt_layer_get_string(layer, CONVT_PARAM_PADDING, name, sizeof name, &length),
         "get_string(PADDING)") &&
      (strcmp(name, "valid") != 0 || length != 5)) {
    fail("get_string(PADDING) != \"valid\"");
  }
  if (ok(convt_layer_get_string(layer, CONVT_PARAM_NAME, name, sizeof name, &length),
         "get_string(NAME)") &&
      strcmp(name, "c99_layer") != 0) {
    fail("get_string(NAME) != \"c99_layer\"");
  }

  /* Shape before weights, then weights. */
  if (ok(convt_layer_output_shape(layer, 1, STEPS, shape), "output_shape") &&
      (shape[0] != 1 || shape[1] != OUT_STEPS || shape[2] != F)) {
    printf("header_c99: output_shape gave {%" PRId64 ", %" PRId64 ", %" PRId64 "}\n", shape[0],
           shape[1], shape[2]);
    fail("output_shape != {1, 5, 2}");
  }
  ok(convt_layer_set_weights_f32(layer, C, CONVT_LAYOUT_WOI, kernel, K * F * C, bias, F),
     "set_weights_f32");

  /* Forward, against y[j][o] = relu(b[o] + sum over 2i + t == j of x[i] * W[t][o]). */
  for (j = 0; j < OUT_STEPS; ++j) {
    for (o = 0; o < F; ++o) {
      float y = bias[o];
      for (i = 0; i < STEPS; ++i) {
        for (t = 0; t < K; ++t) {
          if (i * S + t == j) y += input[i] * kernel[t * F + o];
        }
      }
      expected[j * F + o] = y > 0.0f ? y : 0.0f;
    }
  }
  output[OUT_STEPS * F] = 42.0f; /* past the end: must stay */
  if (ok(convt_layer_forward_f32(layer, input, STEPS * C, 1, STEPS, output, OUT_STEPS * F,
                                 OUT_STEPS),
         "forward_f32")) {
    for (j = 0; j < OUT_STEPS * F; ++j) {
      if (output[j] != expected[j]) {
        printf("header_c99: output[%d] = %g, expected %g\n", j, (double)output[j],
               (double)expected[j]);
        fail("forward_f32 output differs");
      }
    }
    if (output[OUT_STEPS * F] != 42.0f) fail("forward_f32 wrote past out_steps");
  }

  /* A deliberate error: the status, a message naming the parameter, nothing changed. */
  status = convt_layer_set_int(layer, CONVT_PARAM_STRIDES, 0);
  if (status != CONVT_E_INVALID_ARGUMENT) fail("set_int(STRIDES, 0) != CONVT_E_INVALID_ARGUMENT");
  if (strcmp(convt_status_string(status), "CONVT_E_INVALID_ARGUMENT") != 0) {
    fail("convt_status_string(CONVT_E_INVALID_ARGUMENT)");
  }
  if (convt_last_error()[0] == '\0') fail("convt_last_error() empty after a failure");
  if (!mentions(convt_last_error(), "strides")) {
    printf("header_c99: message: %s\n", convt_last_error());
    fail("convt_last_error() does not mention strides");
  }
  if (ok(convt_layer_get_int(layer, CONVT_PARAM_STRIDES, &value), "get_int(STRIDES) again") &&
      value != S) {
    fail("a failed set_int changed STRIDES");
  }
  if (strcmp(convt_status_string(12345), "CONVT_E_UNKNOWN") != 0) {
    fail("convt_status_string(unknown)");
  }

  convt_layer_destroy(layer);
  convt_layer_destroy(NULL);

  if (failures != 0) {
    printf("header_c99: %d check(s) failed\n", failures);
    return 1;
  }
  printf("header_c99: all checks passed\n");
  return 0;
}
