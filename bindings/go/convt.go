// Package convt is the Go binding of libconvt: the 1-D transposed convolution layer (Keras
// Conv1DTranspose, tf.nn.conv1d_transpose, PyTorch ConvTranspose1d, ONNX ConvTranspose)
// with the numbers those frameworks give.
//
// It calls the C API through cgo and finds the library with pkg-config (convt.pc; set
// PKG_CONFIG_PATH to <prefix>/lib/pkgconfig for a library outside the system paths).
// Every failing call returns an *Error carrying the library's status and message. Slices go
// to the library as a pointer with their length in elements; no pointer is kept after a
// call returns.
//
// Threads: the library keeps each OS thread's last error message. A goroutine may move to
// another OS thread between two cgo calls, so every call here locks the goroutine to its
// thread from the call until the message is copied. Forward, OutputShape and the getters
// may run at once from any number of goroutines on one Layer; the setters, SetWeights and
// InitWeights must not overlap with other calls on that Layer.
package convt

/*
#cgo pkg-config: convt
#include <stdlib.h>
#include <convt/convt.h>
*/
import "C"

import (
	"fmt"
	"math"
	"runtime"
	"unsafe"
)

// Status is a convt_status: 0 = OK, else why a call failed.
type Status int32

// The status codes; their values never change.
const (
	StatusOK              Status = C.CONVT_OK
	StatusInvalidArgument Status = C.CONVT_E_INVALID_ARGUMENT
	StatusShape           Status = C.CONVT_E_SHAPE
	StatusState           Status = C.CONVT_E_STATE
	StatusOutOfMemory     Status = C.CONVT_E_OUT_OF_MEMORY
	StatusUnsupported     Status = C.CONVT_E_UNSUPPORTED
	StatusInternal        Status = C.CONVT_E_INTERNAL
)

// String is the library's name for the status, "CONVT_E_SHAPE".
func (s Status) String() string { return C.GoString(C.convt_status_string(C.convt_status(s))) }

// Error is a failed libconvt call: its status and the library's message (what was wrong and
// what was expected, with the numbers).
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string { return e.Status.String() + ": " + e.Message }

// call runs one C call with the goroutine locked to its OS thread, and reads that thread's
// message before unlocking, so the message is the one this call stored.
func call(f func() C.convt_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	status := f()
	if status == C.CONVT_OK {
		return nil
	}
	return &Error{Status: Status(status), Message: C.GoString(C.convt_last_error())}
}

// Version is the loaded library's version, "1.0.0".
func Version() string { return C.GoString(C.convt_version_string()) }

// VersionNumber is the loaded library's version as major*10000 + minor*100 + patch.
func VersionNumber() uint32 { return uint32(C.convt_version_number()) }

// Param is a layer parameter (convt_param); types and defaults are in convt.h.
type Param int32

// The parameters.
const (
	ParamFilters           Param = C.CONVT_PARAM_FILTERS
	ParamKernelSize        Param = C.CONVT_PARAM_KERNEL_SIZE
	ParamInChannels        Param = C.CONVT_PARAM_IN_CHANNELS
	ParamStrides           Param = C.CONVT_PARAM_STRIDES
	ParamDilationRate      Param = C.CONVT_PARAM_DILATION_RATE
	ParamPadding           Param = C.CONVT_PARAM_PADDING
	ParamPadBegin          Param = C.CONVT_PARAM_PAD_BEGIN
	ParamPadEnd            Param = C.CONVT_PARAM_PAD_END
	ParamOutputPadding     Param = C.CONVT_PARAM_OUTPUT_PADDING
	ParamDataFormat        Param = C.CONVT_PARAM_DATA_FORMAT
	ParamGroups            Param = C.CONVT_PARAM_GROUPS
	ParamUseBias           Param = C.CONVT_PARAM_USE_BIAS
	ParamActivation        Param = C.CONVT_PARAM_ACTIVATION
	ParamActivationAlpha   Param = C.CONVT_PARAM_ACTIVATION_ALPHA
	ParamDtype             Param = C.CONVT_PARAM_DTYPE
	ParamInputSteps        Param = C.CONVT_PARAM_INPUT_STEPS
	ParamBatchSize         Param = C.CONVT_PARAM_BATCH_SIZE
	ParamName              Param = C.CONVT_PARAM_NAME
	ParamNumThreads        Param = C.CONVT_PARAM_NUM_THREADS
	ParamKernelInitializer Param = C.CONVT_PARAM_KERNEL_INITIALIZER
	ParamBiasInitializer   Param = C.CONVT_PARAM_BIAS_INITIALIZER
	ParamTrainable         Param = C.CONVT_PARAM_TRAINABLE

	ParamKernelRegularizer        Param = C.CONVT_PARAM_KERNEL_REGULARIZER
	ParamKernelRegularizerL1      Param = C.CONVT_PARAM_KERNEL_REGULARIZER_L1
	ParamKernelRegularizerL2      Param = C.CONVT_PARAM_KERNEL_REGULARIZER_L2
	ParamBiasRegularizer          Param = C.CONVT_PARAM_BIAS_REGULARIZER
	ParamBiasRegularizerL1        Param = C.CONVT_PARAM_BIAS_REGULARIZER_L1
	ParamBiasRegularizerL2        Param = C.CONVT_PARAM_BIAS_REGULARIZER_L2
	ParamActivityRegularizer      Param = C.CONVT_PARAM_ACTIVITY_REGULARIZER
	ParamActivityRegularizerL1    Param = C.CONVT_PARAM_ACTIVITY_REGULARIZER_L1
	ParamActivityRegularizerL2    Param = C.CONVT_PARAM_ACTIVITY_REGULARIZER_L2
	ParamKernelConstraint         Param = C.CONVT_PARAM_KERNEL_CONSTRAINT
	ParamKernelConstraintMinValue Param = C.CONVT_PARAM_KERNEL_CONSTRAINT_MIN_VALUE
	ParamKernelConstraintMaxValue Param = C.CONVT_PARAM_KERNEL_CONSTRAINT_MAX_VALUE
	ParamKernelConstraintRate     Param = C.CONVT_PARAM_KERNEL_CONSTRAINT_RATE
	ParamKernelConstraintAxes     Param = C.CONVT_PARAM_KERNEL_CONSTRAINT_AXES
	ParamBiasConstraint           Param = C.CONVT_PARAM_BIAS_CONSTRAINT
	ParamBiasConstraintMinValue   Param = C.CONVT_PARAM_BIAS_CONSTRAINT_MIN_VALUE
	ParamBiasConstraintMaxValue   Param = C.CONVT_PARAM_BIAS_CONSTRAINT_MAX_VALUE
	ParamBiasConstraintRate       Param = C.CONVT_PARAM_BIAS_CONSTRAINT_RATE
	ParamBackwardRegularization   Param = C.CONVT_PARAM_BACKWARD_REGULARIZATION
)

// Regularizer is a regularizer (convt_regularizer) for the *Regularizer parameters.
type Regularizer int32

// The regularizers, as Keras names them.
const (
	RegularizerNone Regularizer = C.CONVT_REGULARIZER_NONE
	RegularizerL1   Regularizer = C.CONVT_REGULARIZER_L1
	RegularizerL2   Regularizer = C.CONVT_REGULARIZER_L2
	RegularizerL1L2 Regularizer = C.CONVT_REGULARIZER_L1_L2
)

// Constraint is a weight constraint (convt_constraint) for the *Constraint parameters.
type Constraint int32

// The constraints, as Keras names them.
const (
	ConstraintNone       Constraint = C.CONVT_CONSTRAINT_NONE
	ConstraintMaxNorm    Constraint = C.CONVT_CONSTRAINT_MAX_NORM
	ConstraintMinMaxNorm Constraint = C.CONVT_CONSTRAINT_MIN_MAX_NORM
	ConstraintNonNeg     Constraint = C.CONVT_CONSTRAINT_NON_NEG
	ConstraintUnitNorm   Constraint = C.CONVT_CONSTRAINT_UNIT_NORM
)

// Padding is a padding mode (convt_padding).
type Padding int32

// The padding modes: Keras/TF "valid" and "same", ONNX SAME_LOWER, and Explicit crops
// (PyTorch's padding=, ONNX's pads; see SetPads).
const (
	PaddingValid     Padding = C.CONVT_PADDING_VALID
	PaddingSame      Padding = C.CONVT_PADDING_SAME
	PaddingSameLower Padding = C.CONVT_PADDING_SAME_LOWER
	PaddingExplicit  Padding = C.CONVT_PADDING_EXPLICIT
)

// DataFormat is the tensors' layout (convt_data_format).
type DataFormat int32

// ChannelsLast is (batch, steps, channels), Keras's and TF's; ChannelsFirst is (batch,
// channels, steps), PyTorch's and ONNX's.
const (
	ChannelsLast  DataFormat = C.CONVT_CHANNELS_LAST
	ChannelsFirst DataFormat = C.CONVT_CHANNELS_FIRST
)

// Dtype is a layer's element type (convt_dtype): float32 layers take the F32 methods,
// float64 layers the F64 ones.
type Dtype int32

// The element types.
const (
	Float32 Dtype = C.CONVT_DTYPE_FLOAT32
	Float64 Dtype = C.CONVT_DTYPE_FLOAT64
)

// Layout is a kernel layout (convt_layout).
type Layout int32

// WOI is (kernel_size, filters, in_channels/groups), Keras's and TF's; IOW is (in_channels,
// filters/groups, kernel_size), PyTorch's and ONNX's.
const (
	WOI     Layout = C.CONVT_LAYOUT_WOI
	IOW     Layout = C.CONVT_LAYOUT_IOW
	Keras          = WOI
	PyTorch        = IOW
)

// Layer is one Conv1DTranspose layer. Close frees it; a finalizer frees a Layer that was
// never closed.
type Layer struct {
	p *C.convt_layer
}

// NewLayer creates a layer with Keras's defaults for everything but filters and kernel size.
func NewLayer(filters, kernelSize int64) (*Layer, error) {
	var p *C.convt_layer
	if err := call(func() C.convt_status {
		return C.convt_layer_create(C.int64_t(filters), C.int64_t(kernelSize), &p)
	}); err != nil {
		return nil, err
	}
	l := &Layer{p: p}
	runtime.SetFinalizer(l, (*Layer).Close)
	return l, nil
}

// Close frees the layer; later calls return a StatusInvalidArgument error. Safe to repeat.
func (l *Layer) Close() {
	if l.p != nil {
		C.convt_layer_destroy(l.p)
		l.p = nil
	}
	runtime.SetFinalizer(l, nil)
}

// do runs a call on this layer and keeps the Layer (and so its C layer) alive until the
// call has returned, whatever the finalizer would do.
func (l *Layer) do(f func(p *C.convt_layer) C.convt_status) error {
	err := call(func() C.convt_status { return f(l.p) })
	runtime.KeepAlive(l)
	return err
}

// SetInt sets an int or enum parameter (convt_layer_set_int).
func (l *Layer) SetInt(param Param, value int64) error {
	return l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_set_int(p, C.convt_param(param), C.int64_t(value))
	})
}

// GetInt reads an int or enum parameter (convt_layer_get_int).
func (l *Layer) GetInt(param Param) (int64, error) {
	var v C.int64_t
	err := l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_get_int(p, C.convt_param(param), &v)
	})
	return int64(v), err
}

// SetDouble sets a double parameter, ParamActivationAlpha (convt_layer_set_double).
func (l *Layer) SetDouble(param Param, value float64) error {
	return l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_set_double(p, C.convt_param(param), C.double(value))
	})
}

// GetDouble reads a double parameter (convt_layer_get_double).
func (l *Layer) GetDouble(param Param) (float64, error) {
	var v C.double
	err := l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_get_double(p, C.convt_param(param), &v)
	})
	return float64(v), err
}

// SetString sets an enum parameter by name ("same", "NCW", "relu", "float64") or the
// layer's name (convt_layer_set_string).
func (l *Layer) SetString(param Param, value string) error {
	cs := C.CString(value)
	defer C.free(unsafe.Pointer(cs))
	return l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_set_string(p, C.convt_param(param), cs)
	})
}

// GetString reads an enum parameter's canonical name or the layer's name.
func (l *Layer) GetString(param Param) (string, error) {
	var n C.int64_t
	var asked C.convt_status
	// Asking for the length alone reports CONVT_E_SHAPE; any other failure is the error.
	err := l.do(func(p *C.convt_layer) C.convt_status {
		asked = C.convt_layer_get_string(p, C.convt_param(param), nil, 0, &n)
		if asked == C.CONVT_E_SHAPE {
			return C.CONVT_OK
		}
		return asked
	})
	if err != nil {
		return "", err
	}
	buf := make([]byte, int(n)+1)
	err = l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_get_string(p, C.convt_param(param),
			(*C.char)(unsafe.Pointer(&buf[0])), C.int64_t(len(buf)), &n)
	})
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// Filters is the number of output channels.
func (l *Layer) Filters() (int64, error) { return l.GetInt(ParamFilters) }

// KernelSize is the number of taps.
func (l *Layer) KernelSize() (int64, error) { return l.GetInt(ParamKernelSize) }

// InChannels is 0 until weights (or SetInt(ParamInChannels)) fix it.
func (l *Layer) InChannels() (int64, error) { return l.GetInt(ParamInChannels) }

// DataFormat is the layer's tensor layout.
func (l *Layer) DataFormat() (DataFormat, error) {
	v, err := l.GetInt(ParamDataFormat)
	return DataFormat(v), err
}

// Name is the layer's name.
func (l *Layer) Name() (string, error) { return l.GetString(ParamName) }

// SetStrides sets the stride (>= 1).
func (l *Layer) SetStrides(s int64) error { return l.SetInt(ParamStrides, s) }

// SetDilationRate sets the dilation (>= 1).
func (l *Layer) SetDilationRate(d int64) error { return l.SetInt(ParamDilationRate, d) }

// SetPadding sets the padding mode.
func (l *Layer) SetPadding(p Padding) error { return l.SetInt(ParamPadding, int64(p)) }

// SetPads sets explicit padding cropping begin and end steps (PyTorch's padding=p is p, p);
// on an error the three parameters keep their previous values.
func (l *Layer) SetPads(begin, end int64) error {
	oldBegin, err := l.GetInt(ParamPadBegin)
	if err != nil {
		return err
	}
	oldEnd, err := l.GetInt(ParamPadEnd)
	if err != nil {
		return err
	}
	err = l.SetInt(ParamPadBegin, begin)
	if err == nil {
		err = l.SetInt(ParamPadEnd, end)
	}
	if err == nil {
		err = l.SetPadding(PaddingExplicit)
	}
	if err != nil {
		// Values the layer held a moment ago are always accepted again.
		_ = l.SetInt(ParamPadBegin, oldBegin)
		_ = l.SetInt(ParamPadEnd, oldEnd)
	}
	return err
}

// SetOutputPadding sets output_padding; -1 unsets it (Keras None).
func (l *Layer) SetOutputPadding(op int64) error { return l.SetInt(ParamOutputPadding, op) }

// SetDataFormat sets the tensor layout.
func (l *Layer) SetDataFormat(f DataFormat) error { return l.SetInt(ParamDataFormat, int64(f)) }

// SetGroups sets the number of groups.
func (l *Layer) SetGroups(g int64) error { return l.SetInt(ParamGroups, g) }

// SetUseBias says whether the layer has a bias.
func (l *Layer) SetUseBias(useBias bool) error {
	v := int64(0)
	if useBias {
		v = 1
	}
	return l.SetInt(ParamUseBias, v)
}

// SetActivation sets the activation by its Keras 3 name: "relu", "leaky_relu", "swish", ...
func (l *Layer) SetActivation(name string) error { return l.SetString(ParamActivation, name) }

// SetDtype sets the element type (before weights).
func (l *Layer) SetDtype(d Dtype) error { return l.SetInt(ParamDtype, int64(d)) }

// SetName sets the layer's name.
func (l *Layer) SetName(name string) error { return l.SetString(ParamName, name) }

// InitWeights fills the kernel and bias by the layer's initializers for inChannels inputs;
// the same seed gives bitwise the same weights everywhere.
func (l *Layer) InitWeights(inChannels int64, seed uint64) error {
	return l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_init_weights(p, C.int64_t(inChannels), C.uint64_t(seed))
	})
}

// OutputShape is the default output shape for an input of (batch, steps), in the data
// format's order: {batch, outSteps, filters} or {batch, filters, outSteps}.
func (l *Layer) OutputShape(batch, steps int64) ([3]int64, error) {
	var shape [3]C.int64_t
	err := l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_output_shape(p, C.int64_t(batch), C.int64_t(steps), &shape[0])
	})
	return [3]int64{int64(shape[0]), int64(shape[1]), int64(shape[2])}, err
}

// OutputSteps is the default output length for steps input steps.
func (l *Layer) OutputSteps(steps int64) (int64, error) { return l.outStepsFor(1, steps) }

func (l *Layer) outStepsFor(batch, steps int64) (int64, error) {
	shape, err := l.OutputShape(batch, steps)
	if err != nil {
		return 0, err
	}
	format, err := l.DataFormat()
	if err != nil {
		return 0, err
	}
	if format == ChannelsFirst {
		return shape[2], nil
	}
	return shape[1], nil
}

// kernelLen is the kernel's element count once in_channels is fixed, or 0; and use_bias.
func (l *Layer) kernelLen() (int, bool, error) {
	var v [5]int64
	for i, param := range []Param{ParamKernelSize, ParamFilters, ParamInChannels, ParamGroups,
		ParamUseBias} {
		var err error
		if v[i], err = l.GetInt(param); err != nil {
			return 0, false, err
		}
	}
	if v[2] < 1 || v[3] < 1 {
		return 0, v[4] != 0, nil
	}
	return int(v[0] * v[1] * (v[2] / v[3])), v[4] != 0, nil
}

// outputLen is batch*filters*outSteps for a buffer this binding allocates, or 1 when that is
// not a length: the library then rejects the call with the message the caller should see.
func (l *Layer) outputLen(batch, outSteps int64) (int, error) {
	f, err := l.Filters()
	if err != nil {
		return 0, err
	}
	if batch < 1 || outSteps < 1 || batch > math.MaxInt64/f || batch*f > math.MaxInt64/outSteps {
		return 1, nil
	}
	return int(batch * f * outSteps), nil
}

// ptr32 and ptr64 give the library a slice's first element, or NULL for an empty slice.
func ptr32(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&s[0]))
}

func ptr64(s []float64) *C.double {
	if len(s) == 0 {
		return nil
	}
	return (*C.double)(unsafe.Pointer(&s[0]))
}

// SetWeightsF32 copies the kernel (in layout) and bias (nil exactly when use_bias is 0) of
// a float32 layer and fixes in_channels, groups, use_bias and dtype.
func (l *Layer) SetWeightsF32(inChannels int64, layout Layout, kernel, bias []float32) error {
	return l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_set_weights_f32(p, C.int64_t(inChannels), C.convt_layout(layout),
			ptr32(kernel), C.int64_t(len(kernel)), ptr32(bias), C.int64_t(len(bias)))
	})
}

// SetWeightsF64 is SetWeightsF32 for float64 layers.
func (l *Layer) SetWeightsF64(inChannels int64, layout Layout, kernel, bias []float64) error {
	return l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_set_weights_f64(p, C.int64_t(inChannels), C.convt_layout(layout),
			ptr64(kernel), C.int64_t(len(kernel)), ptr64(bias), C.int64_t(len(bias)))
	})
}

// GetWeightsF32 returns a float32 layer's kernel (in layout) and bias (nil without one).
func (l *Layer) GetWeightsF32(layout Layout) (kernel, bias []float32, err error) {
	n, useBias, err := l.kernelLen()
	if err != nil {
		return nil, nil, err
	}
	// Before weights there is nothing to read; the library says so (StatusState).
	kernel = make([]float32, maxInt(n, 1))
	if useBias {
		f, _ := l.Filters()
		bias = make([]float32, f)
	}
	err = l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_get_weights_f32(p, C.convt_layout(layout), ptr32(kernel),
			C.int64_t(len(kernel)), ptr32(bias), C.int64_t(len(bias)))
	})
	if err != nil {
		return nil, nil, err
	}
	return kernel, bias, nil
}

// GetWeightsF64 is GetWeightsF32 for float64 layers.
func (l *Layer) GetWeightsF64(layout Layout) (kernel, bias []float64, err error) {
	n, useBias, err := l.kernelLen()
	if err != nil {
		return nil, nil, err
	}
	kernel = make([]float64, maxInt(n, 1))
	if useBias {
		f, _ := l.Filters()
		bias = make([]float64, f)
	}
	err = l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_get_weights_f64(p, C.convt_layout(layout), ptr64(kernel),
			C.int64_t(len(kernel)), ptr64(bias), C.int64_t(len(bias)))
	})
	if err != nil {
		return nil, nil, err
	}
	return kernel, bias, nil
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// ForwardIntoF32 runs a float32 layer: input holds batch*steps*in_channels values in the data
// format's layout; the first batch*filters*outSteps values of output receive the result.
func (l *Layer) ForwardIntoF32(input []float32, batch, steps int64, output []float32,
	outSteps int64) error {
	return l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_forward_f32(p, ptr32(input), C.int64_t(len(input)),
			C.int64_t(batch), C.int64_t(steps), ptr32(output), C.int64_t(len(output)),
			C.int64_t(outSteps))
	})
}

// ForwardIntoF64 is ForwardIntoF32 for float64 layers.
func (l *Layer) ForwardIntoF64(input []float64, batch, steps int64, output []float64,
	outSteps int64) error {
	return l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_forward_f64(p, ptr64(input), C.int64_t(len(input)),
			C.int64_t(batch), C.int64_t(steps), ptr64(output), C.int64_t(len(output)),
			C.int64_t(outSteps))
	})
}

// ForwardF32 returns a float32 layer's output of outSteps steps (TF's output_shape,
// PyTorch's output_size), or of the default length when outSteps is 0.
func (l *Layer) ForwardF32(input []float32, batch, steps, outSteps int64) ([]float32, error) {
	n, outSteps, err := l.prepare(batch, steps, outSteps)
	if err != nil {
		return nil, err
	}
	output := make([]float32, n)
	if err := l.ForwardIntoF32(input, batch, steps, output, outSteps); err != nil {
		return nil, err
	}
	return output, nil
}

// ForwardF64 is ForwardF32 for float64 layers.
func (l *Layer) ForwardF64(input []float64, batch, steps, outSteps int64) ([]float64, error) {
	n, outSteps, err := l.prepare(batch, steps, outSteps)
	if err != nil {
		return nil, err
	}
	output := make([]float64, n)
	if err := l.ForwardIntoF64(input, batch, steps, output, outSteps); err != nil {
		return nil, err
	}
	return output, nil
}

// prepare resolves outSteps 0 to the default length and sizes the output.
func (l *Layer) prepare(batch, steps, outSteps int64) (int, int64, error) {
	if outSteps == 0 {
		var err error
		if outSteps, err = l.outStepsFor(batch, steps); err != nil {
			return 0, 0, err
		}
	}
	n, err := l.outputLen(batch, outSteps)
	return n, outSteps, err
}

// String describes the layer for printing.
func (l *Layer) String() string {
	name, err := l.Name()
	if err != nil {
		return "convt.Layer(closed)"
	}
	f, _ := l.Filters()
	k, _ := l.KernelSize()
	return fmt.Sprintf("convt.Layer(%s, filters=%d, kernel_size=%d)", name, f, k)
}

// ---- training ---------------------------------------------------------------------------------

// GradientsF32 holds what BackwardF32 returns: the input's gradient (in the input's layout),
// the kernel's (in the layout asked for) and the bias's; Kernel and Bias are nil when not
// computed (trainable 0; use_bias 0 for the bias).
type GradientsF32 struct{ Input, Kernel, Bias []float32 }

// GradientsF64 is GradientsF32 for float64 layers.
type GradientsF64 struct{ Input, Kernel, Bias []float64 }

// BackwardIntoF32 computes dL/dinput, dL/dkernel (in layout) and dL/dbias of a float32 layer
// into the caller's slices for gradOutput = dL/dy of the forward pass of length outSteps; a
// nil slice skips that gradient.
func (l *Layer) BackwardIntoF32(input []float32, batch, steps int64, gradOutput []float32,
	outSteps int64, gradInput []float32, layout Layout, gradKernel, gradBias []float32) error {
	return l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_backward_f32(p, ptr32(input), C.int64_t(len(input)),
			C.int64_t(batch), C.int64_t(steps), ptr32(gradOutput), C.int64_t(len(gradOutput)),
			C.int64_t(outSteps), ptr32(gradInput), C.int64_t(len(gradInput)),
			C.convt_layout(layout), ptr32(gradKernel), C.int64_t(len(gradKernel)),
			ptr32(gradBias), C.int64_t(len(gradBias)))
	})
}

// BackwardIntoF64 is BackwardIntoF32 for float64 layers.
func (l *Layer) BackwardIntoF64(input []float64, batch, steps int64, gradOutput []float64,
	outSteps int64, gradInput []float64, layout Layout, gradKernel, gradBias []float64) error {
	return l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_backward_f64(p, ptr64(input), C.int64_t(len(input)),
			C.int64_t(batch), C.int64_t(steps), ptr64(gradOutput), C.int64_t(len(gradOutput)),
			C.int64_t(outSteps), ptr64(gradInput), C.int64_t(len(gradInput)),
			C.convt_layout(layout), ptr64(gradKernel), C.int64_t(len(gradKernel)),
			ptr64(gradBias), C.int64_t(len(gradBias)))
	})
}

// gradientLens is the kernel's and the bias's gradient lengths backward is asked for: both 0
// while trainable is 0, the bias's 0 without a bias.
func (l *Layer) gradientLens() (int, int, error) {
	trainable, err := l.GetInt(ParamTrainable)
	if err != nil || trainable == 0 {
		return 0, 0, err
	}
	n, useBias, err := l.kernelLen()
	if err != nil || !useBias {
		return maxInt(n, 1), 0, err
	}
	f, err := l.Filters()
	return maxInt(n, 1), int(f), err
}

// BackwardF32 returns every gradient a float32 layer has, in new slices.
func (l *Layer) BackwardF32(input []float32, batch, steps int64, gradOutput []float32,
	outSteps int64, layout Layout) (GradientsF32, error) {
	nk, nb, err := l.gradientLens()
	if err != nil {
		return GradientsF32{}, err
	}
	g := GradientsF32{Input: make([]float32, len(input))}
	if nk > 0 {
		g.Kernel = make([]float32, nk)
	}
	if nb > 0 {
		g.Bias = make([]float32, nb)
	}
	err = l.BackwardIntoF32(input, batch, steps, gradOutput, outSteps, g.Input, layout, g.Kernel,
		g.Bias)
	if err != nil {
		return GradientsF32{}, err
	}
	return g, nil
}

// BackwardF64 is BackwardF32 for float64 layers.
func (l *Layer) BackwardF64(input []float64, batch, steps int64, gradOutput []float64,
	outSteps int64, layout Layout) (GradientsF64, error) {
	nk, nb, err := l.gradientLens()
	if err != nil {
		return GradientsF64{}, err
	}
	g := GradientsF64{Input: make([]float64, len(input))}
	if nk > 0 {
		g.Kernel = make([]float64, nk)
	}
	if nb > 0 {
		g.Bias = make([]float64, nb)
	}
	err = l.BackwardIntoF64(input, batch, steps, gradOutput, outSteps, g.Input, layout, g.Kernel,
		g.Bias)
	if err != nil {
		return GradientsF64{}, err
	}
	return g, nil
}

// RegularizationLoss is kernel_regularizer(kernel) + bias_regularizer(bias), the weights'
// penalty Keras adds to the loss.
func (l *Layer) RegularizationLoss() (float64, error) {
	var v C.double
	err := l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_regularization_loss(p, &v)
	})
	return float64(v), err
}

// ActivityRegularizationF32 is activity_regularizer(output) / batch for a float32 layer's
// output of batch*filters*outSteps values.
func (l *Layer) ActivityRegularizationF32(output []float32, batch, outSteps int64) (float64, error) {
	var v C.double
	err := l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_activity_regularization_f32(p, ptr32(output), C.int64_t(len(output)),
			C.int64_t(batch), C.int64_t(outSteps), &v)
	})
	return float64(v), err
}

// ActivityRegularizationF64 is ActivityRegularizationF32 for float64 layers.
func (l *Layer) ActivityRegularizationF64(output []float64, batch, outSteps int64) (float64, error) {
	var v C.double
	err := l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_activity_regularization_f64(p, ptr64(output), C.int64_t(len(output)),
			C.int64_t(batch), C.int64_t(outSteps), &v)
	})
	return float64(v), err
}

// ApplyConstraints projects the stored weights by the kernel and bias constraints.
func (l *Layer) ApplyConstraints() error {
	return l.do(func(p *C.convt_layer) C.convt_status { return C.convt_layer_apply_constraints(p) })
}

// WorkspaceSize is the bytes one forward call with these arguments allocates.
func (l *Layer) WorkspaceSize(batch, steps, outSteps int64) (int64, error) {
	var v C.int64_t
	err := l.do(func(p *C.convt_layer) C.convt_status {
		return C.convt_layer_workspace_size(p, C.int64_t(batch), C.int64_t(steps),
			C.int64_t(outSteps), &v)
	})
	return int64(v), err
}

// ---- streams ----------------------------------------------------------------------------------

// Stream runs a signal of batch items through a layer in chunks: the outputs of every push
// and the final flush, concatenated along time, equal the layer's forward over the whole
// signal. Chunks and outputs are in the layer's data format. The layer must keep its
// parameters and weights while the stream exists (the stream keeps the Layer alive). One
// goroutine at a time.
type Stream struct {
	p              *C.convt_stream
	layer          *Layer
	batch, filters int64
}

// NewStream creates a stream of batch signals through a layer with weights.
func (l *Layer) NewStream(batch int64) (*Stream, error) {
	f, err := l.Filters()
	if err != nil {
		return nil, err
	}
	var p *C.convt_stream
	if err := l.do(func(lp *C.convt_layer) C.convt_status {
		return C.convt_stream_create(lp, C.int64_t(batch), &p)
	}); err != nil {
		return nil, err
	}
	s := &Stream{p: p, layer: l, batch: batch, filters: f}
	runtime.SetFinalizer(s, (*Stream).Close)
	return s, nil
}

// Close frees the stream; safe to repeat.
func (s *Stream) Close() {
	if s.p != nil {
		C.convt_stream_destroy(s.p)
		s.p = nil
	}
	runtime.SetFinalizer(s, nil)
}

func (s *Stream) do(f func(p *C.convt_stream) C.convt_status) error {
	err := call(func() C.convt_status { return f(s.p) })
	runtime.KeepAlive(s)
	return err
}

// MaxOutputSteps is the output steps the next push of steps steps writes (0: what Flush
// would write now).
func (s *Stream) MaxOutputSteps(steps int64) (int64, error) {
	var n C.int64_t
	err := s.do(func(p *C.convt_stream) C.convt_status {
		return C.convt_stream_max_output_steps(p, C.int64_t(steps), &n)
	})
	return int64(n), err
}

func (s *Stream) values(steps int64) int { return int(s.batch * s.filters * steps) }

// PushIntoF32 consumes steps steps of input and writes the output steps that became final
// into output; it returns their count per item.
func (s *Stream) PushIntoF32(input []float32, steps int64, output []float32) (int64, error) {
	var n C.int64_t
	err := s.do(func(p *C.convt_stream) C.convt_status {
		return C.convt_stream_push_f32(p, ptr32(input), C.int64_t(len(input)), C.int64_t(steps),
			ptr32(output), C.int64_t(len(output)), &n)
	})
	return int64(n), err
}

// PushIntoF64 is PushIntoF32 for float64 layers.
func (s *Stream) PushIntoF64(input []float64, steps int64, output []float64) (int64, error) {
	var n C.int64_t
	err := s.do(func(p *C.convt_stream) C.convt_status {
		return C.convt_stream_push_f64(p, ptr64(input), C.int64_t(len(input)), C.int64_t(steps),
			ptr64(output), C.int64_t(len(output)), &n)
	})
	return int64(n), err
}

// PushF32 returns the output steps that became final, batch*filters*n values.
func (s *Stream) PushF32(input []float32, steps int64) ([]float32, error) {
	m, err := s.MaxOutputSteps(steps)
	if err != nil {
		return nil, err
	}
	output := make([]float32, s.values(m))
	n, err := s.PushIntoF32(input, steps, output)
	if err != nil {
		return nil, err
	}
	return output[:s.values(n)], nil
}

// PushF64 is PushF32 for float64 layers.
func (s *Stream) PushF64(input []float64, steps int64) ([]float64, error) {
	m, err := s.MaxOutputSteps(steps)
	if err != nil {
		return nil, err
	}
	output := make([]float64, s.values(m))
	n, err := s.PushIntoF64(input, steps, output)
	if err != nil {
		return nil, err
	}
	return output[:s.values(n)], nil
}

// FlushF32 returns the rest of the signal; the stream then starts a new signal.
func (s *Stream) FlushF32() ([]float32, error) {
	m, err := s.MaxOutputSteps(0)
	if err != nil {
		return nil, err
	}
	output := make([]float32, s.values(m))
	var n C.int64_t
	err = s.do(func(p *C.convt_stream) C.convt_status {
		return C.convt_stream_flush_f32(p, ptr32(output), C.int64_t(len(output)), &n)
	})
	if err != nil {
		return nil, err
	}
	return output[:s.values(int64(n))], nil
}

// FlushF64 is FlushF32 for float64 layers.
func (s *Stream) FlushF64() ([]float64, error) {
	m, err := s.MaxOutputSteps(0)
	if err != nil {
		return nil, err
	}
	output := make([]float64, s.values(m))
	var n C.int64_t
	err = s.do(func(p *C.convt_stream) C.convt_status {
		return C.convt_stream_flush_f64(p, ptr64(output), C.int64_t(len(output)), &n)
	})
	if err != nil {
		return nil, err
	}
	return output[:s.values(int64(n))], nil
}

// Reset drops the signal so far.
func (s *Stream) Reset() error {
	return s.do(func(p *C.convt_stream) C.convt_status { return C.convt_stream_reset(p) })
}
