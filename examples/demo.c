/* libconvt demo: the Keras documentation example and a HiFi-GAN upsampling layer, each through
 * the C API as a Keras or PyTorch user would set it up. Prints shapes, a checksum and the time. */
#define _POSIX_C_SOURCE 200809L
#include <convt/convt.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHECK(call)                                                                               \
  do {                                                                                            \
    convt_status s_ = (call);                                                                     \
    if (s_ != CONVT_OK) {                                                                         \
      fprintf(stderr, "%s failed: %s: %s\n", #call, convt_status_string(s_), convt_last_error()); \
      exit(1);                                                                                    \
    }                                                                                             \
  } while (0)

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Deterministic input in [-1, 1). */
static void fill(float* x, int64_t n, uint32_t seed) {
  int64_t i;
  for (i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    x[i] = (float)((seed >> 8) * (1.0 / 8388608.0) - 1.0);
  }
}

static double checksum(const float* y, int64_t n) {
  double s = 0;
  int64_t i;
  for (i = 0; i < n; ++i) s += (double)y[i] * (double)((i % 7) + 1);
  return s;
}

/* Runs forward `reps` times and reports the shape, checksum and best time. */
static void run(const char* title, convt_layer* layer, int64_t batch, int64_t steps,
                int64_t in_channels, int reps, double flops) {
  int64_t shape[3], in_len = batch * steps * in_channels, out_len, out_steps;
  int64_t fmt;
  float *x, *y;
  double best = 1e30;
  int r;
  CHECK(convt_layer_output_shape(layer, batch, steps, shape));
  CHECK(convt_layer_get_int(layer, CONVT_PARAM_DATA_FORMAT, &fmt));
  out_len = shape[0] * shape[1] * shape[2];
  out_steps = fmt == CONVT_CHANNELS_LAST ? shape[1] : shape[2];
  x = malloc((size_t)in_len * sizeof *x);
  y = malloc((size_t)out_len * sizeof *y);
  if (x == NULL || y == NULL) exit(1);
  fill(x, in_len, 42u);
  for (r = 0; r < reps; ++r) {
    double t0 = now_seconds(), dt;
    CHECK(convt_layer_forward_f32(layer, x, in_len, batch, steps, y, out_len, out_steps));
    dt = now_seconds() - t0;
    if (dt < best) best = dt;
  }
  printf("%s\n  input (%lld, %lld, %lld) -> output (%lld, %lld, %lld)\n", title, (long long)batch,
         (long long)(fmt == CONVT_CHANNELS_LAST ? steps : in_channels),
         (long long)(fmt == CONVT_CHANNELS_LAST ? in_channels : steps), (long long)shape[0],
         (long long)shape[1], (long long)shape[2]);
  printf("  checksum %.6f, best of %d: %.3f ms, %.1f GFLOP/s\n", checksum(y, out_len), reps,
         best * 1e3, flops / best * 1e-9);
  free(x);
  free(y);
}

int main(void) {
  convt_layer* keras = NULL;
  convt_layer* hifigan = NULL;
  printf("libconvt %s\n", convt_version_string());

  /* Keras: keras.layers.Conv1DTranspose(32, 3, 2, activation="relu") on x of shape
   * (4, 10, 128): channels_last, padding "valid", kernel (3, 32, 128). */
  CHECK(convt_layer_create(32, 3, &keras));
  CHECK(convt_layer_set_int(keras, CONVT_PARAM_STRIDES, 2));
  CHECK(convt_layer_set_string(keras, CONVT_PARAM_ACTIVATION, "relu"));
  CHECK(convt_layer_init_weights(keras, 128, 2024u));
  run("Keras docs: Conv1DTranspose(32, 3, 2, activation='relu')", keras, 4, 10, 128, 20,
      2.0 * 4 * 128 * 32 * 3 * 10);

  /* PyTorch: HiFi-GAN V1 ups[0] = nn.ConvTranspose1d(512, 256, 16, 8, padding=4) on 86 mel
   * frames: channels_first, explicit crop 4 and 4, kernel (512, 256, 16). */
  CHECK(convt_layer_create(256, 16, &hifigan));
  CHECK(convt_layer_set_int(hifigan, CONVT_PARAM_STRIDES, 8));
  CHECK(convt_layer_set_string(hifigan, CONVT_PARAM_PADDING, "explicit"));
  CHECK(convt_layer_set_int(hifigan, CONVT_PARAM_PAD_BEGIN, 4));
  CHECK(convt_layer_set_int(hifigan, CONVT_PARAM_PAD_END, 4));
  CHECK(convt_layer_set_string(hifigan, CONVT_PARAM_DATA_FORMAT, "NCW"));
  CHECK(convt_layer_init_weights(hifigan, 512, 7u));
  run("HiFi-GAN V1 ups[0]: ConvTranspose1d(512, 256, 16, stride 8, padding 4)", hifigan, 1, 86, 512,
      10, 2.0 * 1 * 512 * 256 * 16 * 86);

  convt_layer_destroy(keras);
  convt_layer_destroy(hifigan);
  return 0;
}
