/* Trains a small two-layer decoder with plain SGD through libconvt's C API.
 *
 *   latent (4 items, 8 steps, 4 channels)
 *   -> Conv1DTranspose(16, 4, strides=2, padding="same", activation="tanh",
 *                      kernel_regularizer=L2(1e-4), kernel_constraint="max_norm")  (4, 16, 16)
 *   -> Conv1DTranspose(1, 4, strides=2, padding="same")                          (4, 32, 1)
 *
 * to reproduce four synthetic signals (a sine of a different frequency per item) from fixed
 * latent codes. Loss = mean squared error + the first layer's L2 penalty. Each step runs
 * forward through both layers, backward through both (the second layer's grad_input is the
 * first layer's grad_output), updates the weights with get_weights / set_weights and applies
 * the constraints, as Keras's fit() does. Prints the loss as it falls; exits 0 and prints
 * "loss fell from A to B" only when the final loss is below a tenth of the first. */
#include <convt/convt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { N = 4, L = 8, C = 4, H = 16, K = 4, L1 = 16, L2 = 32, EPOCHS = 1500 };

static int check(convt_status s, const char* what) {
  if (s == CONVT_OK) return 0;
  fprintf(stderr, "%s: %s: %s\n", what, convt_status_string(s), convt_last_error());
  return 1;
}
#define CHECK(call)                    \
  do {                                 \
    if (check((call), #call)) exit(1); \
  } while (0)

/* One plain SGD step on a layer's kernel and bias: w -= rate * dL/dw, then the constraints. */
static void sgd_step(convt_layer* layer, int64_t in_channels, const float* grad_kernel,
                     const float* grad_bias, int64_t kernel_len, int64_t bias_len, float rate) {
  float kernel[H * C * K], bias[H];
  int64_t i;
  CHECK(convt_layer_get_weights_f32(layer, CONVT_LAYOUT_WOI, kernel, kernel_len, bias, bias_len));
  for (i = 0; i < kernel_len; ++i) kernel[i] -= rate * grad_kernel[i];
  for (i = 0; i < bias_len; ++i) bias[i] -= rate * grad_bias[i];
  CHECK(convt_layer_set_weights_f32(layer, in_channels, CONVT_LAYOUT_WOI, kernel, kernel_len, bias,
                                    bias_len));
  CHECK(convt_layer_apply_constraints(layer));
}

int main(void) {
  static float latent[N * L * C], hidden[N * L1 * H], out[N * L2], target[N * L2];
  static float grad_out[N * L2], grad_hidden[N * L1 * H];
  float gk1[K * H * C], gb1[H], gk2[K * 1 * H], gb2[1];
  convt_layer* enc = NULL; /* the first layer */
  convt_layer* dec = NULL; /* the second layer */
  double first = 0.0, loss = 0.0;
  unsigned seed = 12345u;
  int i, epoch;

  /* Fixed latent codes in [-1, 1) and the signals to reproduce. */
  for (i = 0; i < N * L * C; ++i) {
    seed = seed * 1103515245u + 12345u;
    latent[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
  for (i = 0; i < N * L2; ++i) {
    const int n = i / L2, j = i % L2;
    target[i] = (float)(0.8 * sin(2.0 * 3.14159265358979 * (n + 1) * j / L2));
  }

  CHECK(convt_layer_create(H, K, &enc));
  CHECK(convt_layer_set_int(enc, CONVT_PARAM_STRIDES, 2));
  CHECK(convt_layer_set_string(enc, CONVT_PARAM_PADDING, "same"));
  CHECK(convt_layer_set_string(enc, CONVT_PARAM_ACTIVATION, "tanh"));
  CHECK(convt_layer_set_string(enc, CONVT_PARAM_KERNEL_REGULARIZER, "l2"));
  CHECK(convt_layer_set_double(enc, CONVT_PARAM_KERNEL_REGULARIZER_L2, 1e-4));
  CHECK(convt_layer_set_string(enc, CONVT_PARAM_KERNEL_CONSTRAINT, "max_norm"));
  /* backward returns the gradient of loss + penalty, as Keras differentiates it */
  CHECK(convt_layer_set_int(enc, CONVT_PARAM_BACKWARD_REGULARIZATION, 1));
  CHECK(convt_layer_init_weights(enc, C, 1));

  CHECK(convt_layer_create(1, K, &dec));
  CHECK(convt_layer_set_int(dec, CONVT_PARAM_STRIDES, 2));
  CHECK(convt_layer_set_string(dec, CONVT_PARAM_PADDING, "same"));
  CHECK(convt_layer_init_weights(dec, H, 2));

  for (epoch = 0; epoch <= EPOCHS; ++epoch) {
    double penalty = 0.0;
    CHECK(convt_layer_forward_f32(enc, latent, N * L * C, N, L, hidden, N * L1 * H, L1));
    CHECK(convt_layer_forward_f32(dec, hidden, N * L1 * H, N, L1, out, N * L2, L2));
    loss = 0.0;
    for (i = 0; i < N * L2; ++i) {
      const double e = (double)out[i] - target[i];
      loss += e * e / (N * L2);
      grad_out[i] = (float)(2.0 * e / (N * L2)); /* dL/dy of the mean squared error */
    }
    CHECK(convt_layer_regularization_loss(enc, &penalty));
    loss += penalty;
    if (epoch == 0) first = loss;
    if (epoch % 250 == 0) printf("epoch %3d  loss %.6f\n", epoch, loss);
    if (epoch == EPOCHS) break;

    /* The second layer gives the first its grad_output; then both take a step. */
    CHECK(convt_layer_backward_f32(dec, hidden, N * L1 * H, N, L1, grad_out, N * L2, L2,
                                   grad_hidden, N * L1 * H, CONVT_LAYOUT_WOI, gk2, K * H, gb2, 1));
    CHECK(convt_layer_backward_f32(enc, latent, N * L * C, N, L, grad_hidden, N * L1 * H, L1, NULL,
                                   0, CONVT_LAYOUT_WOI, gk1, K * H * C, gb1, H));
    sgd_step(dec, H, gk2, gb2, K * H, 1, 0.2f);
    sgd_step(enc, C, gk1, gb1, K * H * C, H, 0.2f);
  }
  convt_layer_destroy(enc);
  convt_layer_destroy(dec);

  if (!(loss < first / 10.0)) {
    printf("loss did not fall enough: from %.6f to %.6f\n", first, loss);
    return 1;
  }
  printf("loss fell from %.6f to %.6f\n", first, loss);
  return 0;
}
