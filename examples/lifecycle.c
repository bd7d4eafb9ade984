#include <convt/convt.h>
#include <stdio.h>

int main(void) {
  /* keras.layers.Conv1DTranspose(filters=2, kernel_size=3, strides=2, padding="same") */
  convt_layer* layer = NULL;
  if (convt_layer_create(2, 3, &layer) != CONVT_OK) return 1;
  convt_layer_set_int(layer, CONVT_PARAM_STRIDES, 2);
  convt_layer_set_string(layer, CONVT_PARAM_PADDING, "same");

  /* Kernel in Keras's layout (kernel_size, filters, in_channels) = (3, 2, 1), and the bias. */
  const float kernel[6] = {1, 10, 2, 20, 3, 30};
  const float bias[2] = {0.5f, -0.5f};
  convt_status s = convt_layer_set_weights_f32(layer, 1, CONVT_LAYOUT_WOI, kernel, 6, bias, 2);
  if (s != CONVT_OK) {
    fprintf(stderr, "%s: %s\n", convt_status_string(s), convt_last_error());
    return 1;
  }

  /* x: (batch 1, steps 4, channels 1) -> y: (1, 8, 2) */
  const float x[4] = {1, 2, 3, 4};
  int64_t shape[3];
  convt_layer_output_shape(layer, 1, 4, shape); /* {1, 8, 2} */
  float y[16];
  s = convt_layer_forward_f32(layer, x, 4, 1, 4, y, 16, shape[1]);
  if (s != CONVT_OK) {
    fprintf(stderr, "%s: %s\n", convt_status_string(s), convt_last_error());
    return 1;
  }
  for (int j = 0; j < 8; ++j) printf("%g %g\n", y[2 * j], y[2 * j + 1]);
  convt_layer_destroy(layer);
  return 0;
}
