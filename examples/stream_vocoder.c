/* A neural vocoder's upsampling stack, streamed in real time.
 *
 * Four transposed convolutions shaped like HiFi-GAN V1's upsampling layers -- strides 8, 8, 2, 2,
 * kernels 16, 16, 4, 4, channels 512 -> 256 -> 128 -> 64 -> 32, PyTorch's padding (k - s) / 2
 * (EXPLICIT here), leaky_relu(0.1) between them as HiFi-GAN applies it (its residual blocks are
 * left out). Mel frames of 22.05 kHz audio with hop 256 arrive as they would from a live
 * source: every 10 ms the frames that became available are pushed -- one, or none (a no-op
 * push) -- and each layer's output chunk goes straight into the next layer's stream. At the end
 * the streams are flushed in order and the streamed signal is compared with the offline forward
 * of the whole signal, layer by layer; the real-time factor is the streaming compute time over
 * the audio's duration.
 *
 * Build: cc stream_vocoder.c $(pkg-config --cflags --libs convt) */
#define _POSIX_C_SOURCE 199309L
#include <convt/convt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LAYERS 4
#define SAMPLE_RATE 22050
#define HOP 256   /* 8 * 8 * 2 * 2 */
#define TICKS 200 /* 2 s of 10 ms ticks */
#define TICK_MS 10

static const int64_t kChannels[LAYERS + 1] = {512, 256, 128, 64, 32};
static const int64_t kKernel[LAYERS] = {16, 16, 4, 4};
static const int64_t kStride[LAYERS] = {8, 8, 2, 2};

/* Everything the streaming side owns: a stream per layer, a chunk buffer per layer, and the
 * streamed output of the last layer, (32, steps) channels-first. */
typedef struct {
  convt_stream* stream[LAYERS];
  float* chunk[LAYERS];
  int64_t chunk_capacity[LAYERS]; /* steps */
  float* out;
  int64_t out_steps, out_capacity;
  int failed;
} Chain;

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int check(convt_status s, const char* what) {
  if (s == CONVT_OK) return 1;
  fprintf(stderr, "%s: %s: %s\n", what, convt_status_string(s), convt_last_error());
  return 0;
}

/* Room for `steps` output steps of layer l. */
static int reserve(Chain* c, int l, int64_t steps) {
  if (steps <= c->chunk_capacity[l]) return 1;
  float* grown = realloc(c->chunk[l], (size_t)(steps * kChannels[l + 1]) * sizeof(float));
  if (grown == NULL) return 0;
  c->chunk[l] = grown;
  c->chunk_capacity[l] = steps;
  return 1;
}

/* Appends n steps of the last layer's (32, n) chunk to the streamed output (32, total). */
static void collect(Chain* c, const float* chunk, int64_t n) {
  const int64_t F = kChannels[LAYERS];
  for (int64_t o = 0; o < F && c->out_steps + n <= c->out_capacity; ++o) {
    memcpy(c->out + o * c->out_capacity + c->out_steps, chunk + o * n, (size_t)n * sizeof(float));
  }
  c->out_steps += n;
}

/* Pushes n steps (channels, n) into layer l and what comes out into the layers after it. */
static void feed(Chain* c, int l, const float* input, int64_t n) {
  if (c->failed) return;
  if (l == LAYERS) {
    collect(c, input, n);
    return;
  }
  int64_t most = 0, out = 0;
  if (!check(convt_stream_max_output_steps(c->stream[l], n, &most), "max_output_steps") ||
      !reserve(c, l, most) ||
      !check(convt_stream_push_f32(c->stream[l], input, n * kChannels[l], n, c->chunk[l],
                                   c->chunk_capacity[l] * kChannels[l + 1], &out),
             "push")) {
    c->failed = 1;
    return;
  }
  if (out > 0) feed(c, l + 1, c->chunk[l], out);
}

/* The end of the signal: flush layer l, feed its rest on, then flush the layers after it. */
static void finish(Chain* c, int l) {
  if (c->failed || l == LAYERS) return;
  int64_t most = 0, out = 0;
  if (!check(convt_stream_max_output_steps(c->stream[l], 0, &most), "max_output_steps") ||
      !reserve(c, l, most) ||
      !check(convt_stream_flush_f32(c->stream[l], c->chunk[l],
                                    c->chunk_capacity[l] * kChannels[l + 1], &out),
             "flush")) {
    c->failed = 1;
    return;
  }
  if (out > 0) feed(c, l + 1, c->chunk[l], out);
  finish(c, l + 1);
}

int main(void) {
  convt_layer* layer[LAYERS] = {NULL, NULL, NULL, NULL};
  Chain c;
  memset(&c, 0, sizeof c);
  float* offline[LAYERS + 1] = {NULL, NULL, NULL, NULL, NULL};
  int64_t length[LAYERS + 1];
  int status = 1;

  for (int l = 0; l < LAYERS; ++l) {
    /* torch.nn.ConvTranspose1d(C, F, k, s, padding=(k - s) / 2) */
    const int64_t pad = (kKernel[l] - kStride[l]) / 2;
    if (!check(convt_layer_create(kChannels[l + 1], kKernel[l], &layer[l]), "create") ||
        !check(convt_layer_set_int(layer[l], CONVT_PARAM_STRIDES, kStride[l]), "strides") ||
        !check(convt_layer_set_string(layer[l], CONVT_PARAM_PADDING, "explicit"), "padding") ||
        !check(convt_layer_set_int(layer[l], CONVT_PARAM_PAD_BEGIN, pad), "pad_begin") ||
        !check(convt_layer_set_int(layer[l], CONVT_PARAM_PAD_END, pad), "pad_end") ||
        !check(convt_layer_set_string(layer[l], CONVT_PARAM_DATA_FORMAT, "channels_first"),
               "data_format") ||
        (l + 1 < LAYERS &&
         (!check(convt_layer_set_string(layer[l], CONVT_PARAM_ACTIVATION, "leaky_relu"),
                 "activation") ||
          !check(convt_layer_set_double(layer[l], CONVT_PARAM_ACTIVATION_ALPHA, 0.1), "alpha"))) ||
        !check(convt_layer_init_weights(layer[l], kChannels[l], 1000 + (uint64_t)l), "weights") ||
        !check(convt_stream_create(layer[l], 1, &c.stream[l]), "stream_create")) {
      goto done;
    }
  }

  /* The mel spectrogram of 2 s: frames available after tick k are floor(t * SR / HOP). */
  const int64_t frames = (int64_t)TICKS * TICK_MS * SAMPLE_RATE / (1000 * HOP);
  length[0] = frames;
  for (int l = 0; l < LAYERS; ++l) length[l + 1] = length[l] * kStride[l]; /* (k - s) / 2 pads */
  offline[0] = malloc((size_t)(kChannels[0] * frames) * sizeof(float));
  c.out_capacity = length[LAYERS];
  c.out = malloc((size_t)(kChannels[LAYERS] * c.out_capacity) * sizeof(float));
  float* frame = malloc((size_t)kChannels[0] * sizeof(float));
  if (offline[0] == NULL || c.out == NULL || frame == NULL) {
    free(frame);
    goto done;
  }
  uint32_t seed = 12345u;
  for (int64_t k = 0; k < kChannels[0] * frames; ++k) {
    seed = seed * 1664525u + 1013904223u;
    offline[0][k] = (float)(seed >> 8) / 16777216.0f * 4.0f - 3.0f; /* log-mel-like, [-3, 1) */
  }

  /* Streaming: one tick every 10 ms of audio time. */
  double busy = 0.0, worst_tick = 0.0;
  int64_t fed = 0;
  for (int tick = 0; tick < TICKS && !c.failed; ++tick) {
    const int64_t available = (int64_t)(tick + 1) * TICK_MS * SAMPLE_RATE / (1000 * HOP);
    const int64_t n = available - fed; /* 0 or 1 frame: a 0-step push is a no-op */
    for (int64_t ch = 0; ch < kChannels[0] && n > 0; ++ch)
      frame[ch] = offline[0][ch * frames + fed];
    const double t0 = now_seconds();
    feed(&c, 0, frame, n);
    const double spent = now_seconds() - t0;
    busy += spent;
    if (spent > worst_tick) worst_tick = spent;
    fed = available;
  }
  const double t0 = now_seconds();
  finish(&c, 0);
  busy += now_seconds() - t0;
  free(frame);
  if (c.failed) goto done;

  /* Offline: forward over the whole signal, layer by layer. */
  for (int l = 0; l < LAYERS; ++l) {
    int64_t shape[3];
    if (!check(convt_layer_output_shape(layer[l], 1, length[l], shape), "output_shape")) goto done;
    length[l + 1] = shape[2];
    offline[l + 1] = malloc((size_t)(kChannels[l + 1] * length[l + 1]) * sizeof(float));
    if (offline[l + 1] == NULL ||
        !check(convt_layer_forward_f32(layer[l], offline[l], kChannels[l] * length[l], 1, length[l],
                                       offline[l + 1], kChannels[l + 1] * length[l + 1],
                                       length[l + 1]),
               "forward")) {
      goto done;
    }
  }

  /* The streamed signal against the offline one. */
  const int64_t F = kChannels[LAYERS], steps = length[LAYERS];
  double peak = 0.0, worst = 0.0;
  for (int64_t o = 0; o < F; ++o) {
    for (int64_t j = 0; j < steps && c.out_steps == steps; ++j) {
      const double want = offline[LAYERS][o * steps + j];
      const double got = c.out[o * c.out_capacity + j];
      if (fabs(want) > peak) peak = fabs(want);
      if (fabs(got - want) > worst) worst = fabs(got - want);
    }
  }
  const double seconds = (double)steps / (SAMPLE_RATE * 1.0);
  printf("stream_vocoder: %lld mel frames in %d ticks of %d ms -> %lld steps of %lld channels\n",
         (long long)frames, TICKS, TICK_MS, (long long)c.out_steps, (long long)F);
  printf("offline forward: %lld steps; largest difference %.3g (largest value %.3g)\n",
         (long long)steps, worst, peak);
  printf("real-time factor %.4f (%.1f ms of compute for %.2f s of audio; slowest tick %.2f ms)\n",
         busy / seconds, 1e3 * busy, seconds, 1e3 * worst_tick);
  /* float32 rounding grows through four layers; a wrong step would be off by O(peak). */
  if (c.out_steps == steps && worst <= 1e-4 * peak) {
    printf("streamed output matches offline forward\n");
    status = 0;
  } else {
    printf("MISMATCH: streamed %lld steps, offline %lld\n", (long long)c.out_steps,
           (long long)steps);
  }

done:
  for (int l = 0; l < LAYERS; ++l) {
    convt_stream_destroy(c.stream[l]);
    convt_layer_destroy(layer[l]);
    free(c.chunk[l]);
  }
  for (int l = 0; l <= LAYERS; ++l) free(offline[l]);
  free(c.out);
  return status;
}
