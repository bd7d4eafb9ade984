/* A C99 program built against the installed libconvt with nothing but
 * `cc -std=c99 main.c $(pkg-config --cflags --libs convt)`: the README's example, with its
 * output checked against values computed by hand. Exits 0 when every check holds. */
#include <convt/convt.h>
#include <stdio.h>

static int failures = 0;

static void expect(int ok, const char* what) {
  if (!ok) {
    printf("consumer_c99: FAILED: %s\n", what);
    ++failures;
  }
}

int main(void) {
  /* keras.layers.Conv1DTranspose(filters=2, kernel_size=3, strides=2, padding="same") */
  convt_layer* layer = NULL;
  convt_status s = convt_layer_create(2, 3, &layer);
  if (s != CONVT_OK) {
    printf("consumer_c99: convt_layer_create: %s: %s\n", convt_status_string(s),
           convt_last_error());
    return 1;
  }
  expect(convt_version_number() == CONVT_VERSION_NUMBER, "header and library versions agree");
  expect(convt_layer_set_int(layer, CONVT_PARAM_STRIDES, 2) == CONVT_OK, "set strides");
  expect(convt_layer_set_string(layer, CONVT_PARAM_PADDING, "same") == CONVT_OK, "set padding");

  {
    /* Kernel in Keras's layout (kernel_size, filters, in_channels) = (3, 2, 1). */
    const float kernel[6] = {1, 10, 2, 20, 3, 30};
    const float bias[2] = {0.5f, -0.5f};
    const float x[4] = {1, 2, 3, 4};
    /* y[j] = sum of x[i] * W[t] over 2i + t = j, plus the bias, worked out by hand. */
    const float want0[8] = {1.5f, 2.5f, 5.5f, 4.5f, 9.5f, 6.5f, 13.5f, 8.5f};
    int64_t shape[3] = {0, 0, 0};
    float y[16];
    int j;
    expect(convt_layer_set_weights_f32(layer, 1, CONVT_LAYOUT_WOI, kernel, 6, bias, 2) == CONVT_OK,
           "set weights");
    expect(convt_layer_output_shape(layer, 1, 4, shape) == CONVT_OK, "output_shape");
    expect(shape[0] == 1 && shape[1] == 8 && shape[2] == 2, "output shape is (1, 8, 2)");
    s = convt_layer_forward_f32(layer, x, 4, 1, 4, y, 16, 8);
    if (s != CONVT_OK) printf("consumer_c99: forward: %s\n", convt_last_error());
    expect(s == CONVT_OK, "forward");
    for (j = 0; j < 8; ++j) {
      expect(y[2 * j] == want0[j], "filter 0 matches the hand-computed output");
      expect(y[2 * j + 1] == (want0[j] - 0.5f) * 10 - 0.5f,
             "filter 1 matches the hand-computed output");
    }
    /* A failing call: the status and a message that names the numbers. */
    s = convt_layer_forward_f32(layer, x, 3, 1, 4, y, 16, 8);
    expect(s == CONVT_E_SHAPE, "a short input is CONVT_E_SHAPE");
    expect(convt_last_error()[0] != '\0', "a failing call leaves a message");
  }
  convt_layer_destroy(layer);
  if (failures == 0) printf("consumer_c99: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
