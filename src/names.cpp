#include "names.hpp"

#include <cctype>
#include <string>

#include "error.hpp"

namespace convt::detail {
namespace {

// A spelling and the value it names. The first spelling of each value is its canonical
// name. kUnsupported marks a name some framework has that this version cannot compute;
// kRejected one that is deliberately not a name here (with `why`).
constexpr int32_t kUnsupported = -1;
constexpr int32_t kRejected = -2;
struct Spelling {
  const char* name;
  int32_t value;
  const char* why = nullptr;
};

constexpr Spelling kPaddings[] = {
    {"valid", CONVT_PADDING_VALID},
    {"same", CONVT_PADDING_SAME},
    {"same_lower", CONVT_PADDING_SAME_LOWER},
    {"explicit", CONVT_PADDING_EXPLICIT},
    {"same_upper", kRejected,
     "ONNX's SAME_UPPER differs from Keras's SAME when the effective kernel is shorter than the "
     "stride or output_padding is set: pass EXPLICIT with the pads ONNX's rule gives"},
    {"notset", kRejected,
     "ONNX's NOTSET means explicit pads: use EXPLICIT with pad_begin and "
     "pad_end"},
    {"causal", kRejected,
     "Keras has no causal padding for Conv1DTranspose: use EXPLICIT with "
     "pad_end = kernel_size - strides"},
};

constexpr Spelling kDataFormats[] = {
    {"channels_last", CONVT_CHANNELS_LAST}, {"nwc", CONVT_CHANNELS_LAST},
    {"nlc", CONVT_CHANNELS_LAST},           {"channels_first", CONVT_CHANNELS_FIRST},
    {"ncw", CONVT_CHANNELS_FIRST},          {"ncl", CONVT_CHANNELS_FIRST},
};

constexpr Spelling kDtypes[] = {
    {"float32", CONVT_DTYPE_FLOAT32},
    {"float", CONVT_DTYPE_FLOAT32},
    {"f32", CONVT_DTYPE_FLOAT32},
    {"torch.float32", CONVT_DTYPE_FLOAT32},
    {"torch.float", CONVT_DTYPE_FLOAT32},
    {"float64", CONVT_DTYPE_FLOAT64},
    {"double", CONVT_DTYPE_FLOAT64},
    {"f64", CONVT_DTYPE_FLOAT64},
    {"torch.float64", CONVT_DTYPE_FLOAT64},
    {"torch.double", CONVT_DTYPE_FLOAT64},
    {"float16", kUnsupported},
    {"bfloat16", kUnsupported},
    {"half", kUnsupported},
    {"torch.float16", kUnsupported},
    {"torch.half", kUnsupported},
    {"torch.bfloat16", kUnsupported},
    {"mixed_float16", kUnsupported},
    {"mixed_bfloat16", kUnsupported},
};

constexpr Spelling kActivations[] = {
    {"linear", CONVT_ACTIVATION_LINEAR},
    {"relu", CONVT_ACTIVATION_RELU},
    {"sigmoid", CONVT_ACTIVATION_SIGMOID},
    {"tanh", CONVT_ACTIVATION_TANH},
    {"elu", CONVT_ACTIVATION_ELU},
    {"selu", CONVT_ACTIVATION_SELU},
    {"softplus", CONVT_ACTIVATION_SOFTPLUS},
    {"softsign", CONVT_ACTIVATION_SOFTSIGN},
    {"exponential", CONVT_ACTIVATION_EXPONENTIAL},
    {"hard_sigmoid", CONVT_ACTIVATION_HARD_SIGMOID},
    {"gelu", CONVT_ACTIVATION_GELU},
    {"silu", CONVT_ACTIVATION_SILU},
    {"swish", CONVT_ACTIVATION_SILU},
    {"relu6", CONVT_ACTIVATION_RELU6},
    {"leaky_relu", CONVT_ACTIVATION_LEAKY_RELU},
    {"mish", CONVT_ACTIVATION_MISH},
    {"softmax", CONVT_ACTIVATION_SOFTMAX},
    {"log_softmax", CONVT_ACTIVATION_LOG_SOFTMAX},
    {"celu", CONVT_ACTIVATION_CELU},
    {"hard_silu", CONVT_ACTIVATION_HARD_SILU},
    {"hard_swish", CONVT_ACTIVATION_HARD_SILU},
    {"hard_tanh", CONVT_ACTIVATION_HARD_TANH},
    {"log_sigmoid", CONVT_ACTIVATION_LOG_SIGMOID},
    {"tanh_shrink", CONVT_ACTIVATION_TANH_SHRINK},
    {"squareplus", CONVT_ACTIVATION_SQUAREPLUS},
    {"sparse_plus", CONVT_ACTIVATION_SPARSE_PLUS},
    {"soft_shrink", CONVT_ACTIVATION_SOFT_SHRINK},
    {"hard_shrink", CONVT_ACTIVATION_HARD_SHRINK},
    {"sparse_sigmoid", CONVT_ACTIVATION_SPARSE_SIGMOID},
    {"sparsemax", CONVT_ACTIVATION_SPARSEMAX},
    {"glu", kUnsupported, "glu halves the last axis, which changes the layer's output shape"},
    {"crelu", kUnsupported, "crelu doubles the last axis, which changes the layer's output shape"},
    {"threshold", kUnsupported, "threshold needs two arguments (threshold, default_value)"},
};

// Keras accepts the snake_case name, the class name and a few aliases.
constexpr Spelling kInitializers[] = {
    {"zeros", CONVT_INITIALIZER_ZEROS},
    {"Zeros", CONVT_INITIALIZER_ZEROS},
    {"zero", CONVT_INITIALIZER_ZEROS},
    {"ones", CONVT_INITIALIZER_ONES},
    {"Ones", CONVT_INITIALIZER_ONES},
    {"one", CONVT_INITIALIZER_ONES},
    {"glorot_uniform", CONVT_INITIALIZER_GLOROT_UNIFORM},
    {"GlorotUniform", CONVT_INITIALIZER_GLOROT_UNIFORM},
    {"glorot_normal", CONVT_INITIALIZER_GLOROT_NORMAL},
    {"GlorotNormal", CONVT_INITIALIZER_GLOROT_NORMAL},
    {"he_uniform", CONVT_INITIALIZER_HE_UNIFORM},
    {"HeUniform", CONVT_INITIALIZER_HE_UNIFORM},
    {"he_normal", CONVT_INITIALIZER_HE_NORMAL},
    {"HeNormal", CONVT_INITIALIZER_HE_NORMAL},
    {"lecun_uniform", CONVT_INITIALIZER_LECUN_UNIFORM},
    {"LecunUniform", CONVT_INITIALIZER_LECUN_UNIFORM},
    {"lecun_normal", CONVT_INITIALIZER_LECUN_NORMAL},
    {"LecunNormal", CONVT_INITIALIZER_LECUN_NORMAL},
    {"random_uniform", CONVT_INITIALIZER_RANDOM_UNIFORM},
    {"RandomUniform", CONVT_INITIALIZER_RANDOM_UNIFORM},
    {"uniform", CONVT_INITIALIZER_RANDOM_UNIFORM},
    {"random_normal", CONVT_INITIALIZER_RANDOM_NORMAL},
    {"RandomNormal", CONVT_INITIALIZER_RANDOM_NORMAL},
    {"normal", CONVT_INITIALIZER_RANDOM_NORMAL},
    {"truncated_normal", CONVT_INITIALIZER_TRUNCATED_NORMAL},
    {"TruncatedNormal", CONVT_INITIALIZER_TRUNCATED_NORMAL},
    {"orthogonal", CONVT_INITIALIZER_ORTHOGONAL},
    {"Orthogonal", CONVT_INITIALIZER_ORTHOGONAL},
    {"OrthogonalInitializer", CONVT_INITIALIZER_ORTHOGONAL},
    {"orthogonal_initializer", CONVT_INITIALIZER_ORTHOGONAL},
    {"constant", kUnsupported, "constant needs a value argument"},
    {"identity", kUnsupported, "identity needs a 2-D kernel"},
    {"variance_scaling", kUnsupported, "variance_scaling needs its arguments"},
    {"stft", kUnsupported, "stft initializes STFT kernels, not this layer"},
};

// Keras 3 looks a regularizer or constraint up by class name or its snake_case ("L1L2" ->
// "l1l2"); keras.regularizers.l1_l2 is an alias.
constexpr Spelling kRegularizers[] = {
    {"none", CONVT_REGULARIZER_NONE},
    {"l1", CONVT_REGULARIZER_L1},
    {"l2", CONVT_REGULARIZER_L2},
    {"l1_l2", CONVT_REGULARIZER_L1_L2},
    {"l1l2", CONVT_REGULARIZER_L1_L2},
    {"orthogonal_regularizer", kRejected,
     "Keras's OrthogonalRegularizer needs a rank-2 weight and raises for this layer's kernel, "
     "bias and output"},
    {"OrthogonalRegularizer", kRejected,
     "Keras's OrthogonalRegularizer needs a rank-2 weight and raises for this layer's kernel, "
     "bias and output"},
};

constexpr Spelling kConstraints[] = {
    {"none", CONVT_CONSTRAINT_NONE},
    {"max_norm", CONVT_CONSTRAINT_MAX_NORM},
    {"MaxNorm", CONVT_CONSTRAINT_MAX_NORM},
    {"min_max_norm", CONVT_CONSTRAINT_MIN_MAX_NORM},
    {"MinMaxNorm", CONVT_CONSTRAINT_MIN_MAX_NORM},
    {"non_neg", CONVT_CONSTRAINT_NON_NEG},
    {"NonNeg", CONVT_CONSTRAINT_NON_NEG},
    {"unit_norm", CONVT_CONSTRAINT_UNIT_NORM},
    {"UnitNorm", CONVT_CONSTRAINT_UNIT_NORM},
};

struct Table {
  const Spelling* begin;
  const Spelling* end;
  int32_t count;
  const char* what;
};

template <size_t N>
constexpr Table table(const Spelling (&s)[N], int32_t count, const char* what) {
  return Table{s, s + N, count, what};
}

Table table_of(NameKind kind) noexcept {
  switch (kind) {
    case NameKind::kPadding:
      return table(kPaddings, 4, "padding");
    case NameKind::kDataFormat:
      return table(kDataFormats, 2, "data_format");
    case NameKind::kDtype:
      return table(kDtypes, 2, "dtype");
    case NameKind::kActivation:
      return table(kActivations, 28, "activation");
    case NameKind::kRegularizer:
      return table(kRegularizers, 4, "regularizer");
    case NameKind::kConstraint:
      return table(kConstraints, 5, "constraint");
    case NameKind::kInitializer:
    default:
      return table(kInitializers, 12, "initializer");
  }
}

bool equal_ignoring_case(const char* a, const char* b) noexcept {
  for (; *a != '\0' && *b != '\0'; ++a, ++b) {
    if (std::tolower(static_cast<unsigned char>(*a)) !=
        std::tolower(static_cast<unsigned char>(*b))) {
      return false;
    }
  }
  return *a == *b;
}

}  // namespace

int32_t value_of_name(NameKind kind, const char* name) {
  const Table t = table_of(kind);
  for (const Spelling* s = t.begin; s != t.end; ++s) {
    if (!equal_ignoring_case(s->name, name)) continue;
    if (s->value >= 0) return s->value;
    const std::string why = s->why != nullptr ? std::string(": ") + s->why : std::string();
    if (s->value == kUnsupported) {
      fail(CONVT_E_UNSUPPORTED, std::string(t.what) + " \"" + name +
                                    "\" is not supported by this version of libconvt" + why);
    }
    fail(CONVT_E_INVALID_ARGUMENT, std::string(t.what) + " \"" + name + "\" is not accepted" + why);
  }
  std::string accepted;
  for (const Spelling* s = t.begin; s != t.end; ++s) {
    if (s->value < 0) continue;
    accepted += accepted.empty() ? "\"" : ", \"";
    accepted += s->name;
    accepted += "\"";
  }
  fail(CONVT_E_INVALID_ARGUMENT, "unknown " + std::string(t.what) + " \"" + name +
                                     "\"; expected one of (case-insensitive) " + accepted);
}

const char* name_of_value(NameKind kind, int32_t value) noexcept {
  const Table t = table_of(kind);
  for (const Spelling* s = t.begin; s != t.end; ++s) {
    if (s->value == value) return s->name;
  }
  return nullptr;
}

int32_t value_count(NameKind kind) noexcept { return table_of(kind).count; }

}  // namespace convt::detail
