package convt

// The Go binding as a Go user would use it, checked against a float64 direct loop written
// here from the formula in include/convt/convt.h (never from the library).

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"sync"
	"testing"
)

type testCase struct {
	filters, kernelSize, strides, dilation, groups int64
	padding                                        Padding
	padBegin, padEnd                               int64
	outputPadding                                  int64 // -1 = unset
	format                                         DataFormat
	layout                                         Layout
	useBias                                        bool
	batch, steps, inChannels                       int64
}

func base() testCase {
	return testCase{filters: 1, kernelSize: 1, strides: 1, dilation: 1, groups: 1,
		outputPadding: -1, useBias: true, batch: 1, steps: 1, inChannels: 1}
}

// cropAndLength is P_b and the default out_steps from the header's table.
func cropAndLength(c testCase) (int64, int64) {
	s, l, op := c.strides, c.steps, c.outputPadding
	kEff := c.dilation*(c.kernelSize-1) + 1
	lFull := (l-1)*s + kEff
	max0 := func(v int64) int64 {
		if v < 0 {
			return 0
		}
		return v
	}
	switch c.padding {
	case PaddingValid:
		if op < 0 {
			if kEff > s {
				return 0, (l-1)*s + kEff
			}
			return 0, l * s
		}
		return 0, lFull + op
	case PaddingSame:
		if op < 0 {
			return max0(lFull-l*s) / 2, l * s
		}
		return max0((kEff - kEff%2 - op) / 2), (l-1)*s + kEff%2 + op
	case PaddingSameLower:
		if op < 0 {
			return (max0(lFull-l*s) + 1) / 2, l * s
		}
		t := max0(lFull + op - l*s)
		return (t + 1) / 2, lFull + op - t
	}
	return c.padBegin, lFull - c.padBegin - c.padEnd + max0(op)
}

// reference is y (N, F, out) and the sum of |terms| from x (N, C, L) and w (C, F/G, K).
func reference(c testCase, x, w, bias []float64, pB, out int64) ([]float64, []float64) {
	cpg, fpg := c.inChannels/c.groups, c.filters/c.groups
	y := make([]float64, c.batch*c.filters*out)
	mag := make([]float64, len(y))
	for n := int64(0); n < c.batch; n++ {
		for o := int64(0); o < c.filters; o++ {
			for j := int64(0); j < out; j++ {
				acc, m := 0.0, 0.0
				if c.useBias {
					acc, m = bias[o], math.Abs(bias[o])
				}
				for t := int64(0); t < c.kernelSize; t++ {
					pos := j + pB - t*c.dilation
					if pos < 0 || pos%c.strides != 0 || pos/c.strides >= c.steps {
						continue
					}
					i := pos / c.strides
					for cc := int64(0); cc < cpg; cc++ {
						ci := (o/fpg)*cpg + cc
						term := x[(n*c.inChannels+ci)*c.steps+i] * w[(ci*fpg+o%fpg)*c.kernelSize+t]
						acc += term
						m += math.Abs(term)
					}
				}
				y[(n*c.filters+o)*out+j] = acc
				mag[(n*c.filters+o)*out+j] = m
			}
		}
	}
	return y, mag
}

// swapLast turns (N, A, B) into (N, B, A).
func swapLast(v []float64, n, a, b int64) []float64 {
	out := make([]float64, len(v))
	for i := int64(0); i < n; i++ {
		for p := int64(0); p < a; p++ {
			for q := int64(0); q < b; q++ {
				out[(i*b+q)*a+p] = v[(i*a+p)*b+q]
			}
		}
	}
	return out
}

// woiFromIOW: W_woi[t][o][c'] = W_iow[(o / (F/G)) * (C/G) + c'][o % (F/G)][t].
func woiFromIOW(w []float64, ch, f, g, k int64) []float64 {
	cpg, fpg := ch/g, f/g
	out := make([]float64, len(w))
	for t := int64(0); t < k; t++ {
		for o := int64(0); o < f; o++ {
			for cc := int64(0); cc < cpg; cc++ {
				out[(t*f+o)*cpg+cc] = w[(((o/fpg)*cpg+cc)*fpg+o%fpg)*k+t]
			}
		}
	}
	return out
}

func uniform(rng *rand.Rand, n int64, f32 bool) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.Float64()*2 - 1
		if f32 {
			v[i] = float64(float32(v[i]))
		}
	}
	return v
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newLayer(t *testing.T, c testCase, dtype Dtype) *Layer {
	t.Helper()
	l, err := NewLayer(c.filters, c.kernelSize)
	must(t, err)
	must(t, l.SetDtype(dtype))
	must(t, l.SetStrides(c.strides))
	must(t, l.SetDilationRate(c.dilation))
	must(t, l.SetGroups(c.groups))
	must(t, l.SetOutputPadding(c.outputPadding))
	must(t, l.SetDataFormat(c.format))
	must(t, l.SetUseBias(c.useBias))
	if c.padding == PaddingExplicit {
		must(t, l.SetPads(c.padBegin, c.padEnd))
	} else {
		must(t, l.SetPadding(c.padding))
	}
	return l
}

func checkCase(t *testing.T, c testCase, dtype Dtype, seed int64) {
	l := newLayer(t, c, dtype)
	defer l.Close()
	pB, out := cropAndLength(c)
	got, err := l.OutputSteps(c.steps)
	must(t, err)
	if got != out {
		t.Fatalf("OutputSteps = %d, want %d", got, out)
	}
	f32 := dtype == Float32
	rng := rand.New(rand.NewSource(seed))
	x := uniform(rng, c.batch*c.inChannels*c.steps, f32)
	w := uniform(rng, c.inChannels*(c.filters/c.groups)*c.kernelSize, f32)
	var bias []float64
	if c.useBias {
		bias = uniform(rng, c.filters, f32)
	}
	kernel := w
	if c.layout == WOI {
		kernel = woiFromIOW(w, c.inChannels, c.filters, c.groups, c.kernelSize)
	}
	in := x
	if c.format == ChannelsLast {
		in = swapLast(x, c.batch, c.inChannels, c.steps)
	}
	var y []float64
	if f32 {
		y32, err := runF32(l, c, kernel, bias, in)
		must(t, err)
		for _, v := range y32 {
			y = append(y, float64(v))
		}
	} else {
		must(t, l.SetWeightsF64(c.inChannels, c.layout, kernel, bias))
		y, err = l.ForwardF64(in, c.batch, c.steps, 0)
		must(t, err)
	}
	if c.format == ChannelsLast {
		y = swapLast(y, c.batch, out, c.filters)
	}
	want, mag := reference(c, x, w, bias, pB, out)
	if len(y) != len(want) {
		t.Fatalf("output has %d values, want %d", len(y), len(want))
	}
	u := math.Ldexp(1, -53)
	if f32 {
		u = math.Ldexp(1, -24)
	}
	for i := range y {
		allowed := 2*float64(c.inChannels/c.groups*c.kernelSize+4)*u*mag[i] + 16*u*math.Abs(want[i])
		if math.Abs(y[i]-want[i]) > allowed {
			t.Fatalf("element %d: got %g, want %g (allowed %g)", i, y[i], want[i], allowed)
		}
	}
}

func runF32(l *Layer, c testCase, kernel, bias, in []float64) ([]float32, error) {
	to32 := func(v []float64) []float32 {
		if v == nil {
			return nil
		}
		out := make([]float32, len(v))
		for i, e := range v {
			out[i] = float32(e)
		}
		return out
	}
	if err := l.SetWeightsF32(c.inChannels, c.layout, to32(kernel), to32(bias)); err != nil {
		return nil, err
	}
	return l.ForwardF32(to32(in), c.batch, c.steps, 0)
}

func cases() []testCase {
	keras := base() // Keras Conv1DTranspose(4, 3, strides=2, padding="same")
	keras.filters, keras.kernelSize, keras.strides, keras.padding = 4, 3, 2, PaddingSame
	keras.batch, keras.steps, keras.inChannels = 2, 7, 3
	torch := base() // PyTorch ConvTranspose1d(4, 6, 5, stride=3, padding=2, output_padding=1, groups=2)
	torch.filters, torch.kernelSize, torch.strides, torch.groups = 6, 5, 3, 2
	torch.padding, torch.padBegin, torch.padEnd, torch.outputPadding = PaddingExplicit, 2, 2, 1
	torch.format, torch.layout, torch.steps, torch.inChannels = ChannelsFirst, PyTorch, 9, 4
	valid := base() // valid, dilated, no bias
	valid.filters, valid.kernelSize, valid.dilation, valid.useBias = 3, 4, 3, false
	valid.batch, valid.steps, valid.inChannels = 3, 5, 2
	lower := base() // ONNX SAME_LOWER with output_padding
	lower.filters, lower.kernelSize, lower.strides, lower.padding = 2, 6, 4, PaddingSameLower
	lower.outputPadding, lower.format, lower.batch, lower.steps, lower.inChannels = 2,
		ChannelsFirst, 2, 6, 3
	return []testCase{keras, torch, valid, lower}
}

func TestForwardMatchesTheFloat64ReferenceInF32AndF64(t *testing.T) {
	for i, c := range cases() {
		for _, dtype := range []Dtype{Float32, Float64} {
			c, dtype, seed := c, dtype, int64(10*i)+int64(dtype)
			t.Run(fmt.Sprintf("case%d/dtype%d", i, dtype), func(t *testing.T) {
				checkCase(t, c, dtype, seed)
			})
		}
	}
}

func TestHandComputedSamePaddingExample(t *testing.T) {
	l, err := NewLayer(2, 3)
	must(t, err)
	defer l.Close()
	must(t, l.SetStrides(2))
	must(t, l.SetString(ParamPadding, "same"))
	must(t, l.SetWeightsF32(1, Keras, []float32{1, 10, 2, 20, 3, 30}, []float32{0.5, -0.5}))
	y, err := l.ForwardF32([]float32{1, 2, 3, 4}, 1, 4, 0)
	must(t, err)
	// y[j] = sum of x[i] * W[t] over 2i + t = j, plus the bias.
	want0 := []float32{1, 2, 5, 4, 9, 6, 13, 8}
	for j, v := range want0 {
		if y[2*j] != v+0.5 || y[2*j+1] != v*10-0.5 {
			t.Fatalf("step %d: got %v %v, want %v %v", j, y[2*j], y[2*j+1], v+0.5, v*10-0.5)
		}
	}
}

func TestErrorsCarryTheStatusAndTheLibraryMessage(t *testing.T) {
	_, err := NewLayer(0, 3)
	var e *Error
	if !errors.As(err, &e) || e.Status != StatusInvalidArgument ||
		!strings.Contains(e.Message, "filters") {
		t.Fatalf("NewLayer(0, 3): %v", err)
	}
	if err.Error() != "CONVT_E_INVALID_ARGUMENT: "+e.Message {
		t.Fatalf("Error() = %q", err.Error())
	}

	l, err := NewLayer(2, 3)
	must(t, err)
	defer l.Close()
	_, err = l.ForwardF32(make([]float32, 12), 1, 4, 0)
	if !errors.As(err, &e) || e.Status != StatusState ||
		!strings.Contains(e.Message, "convt_layer_forward_f32") {
		t.Fatalf("forward before weights: %v", err)
	}
	must(t, l.InitWeights(3, 1))
	_, err = l.ForwardF64(make([]float64, 12), 1, 4, 0)
	if !errors.As(err, &e) || e.Status != StatusState {
		t.Fatalf("f64 forward on a float32 layer: %v", err)
	}
	// A failed call leaves the output untouched.
	out := []float32{7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}
	err = l.ForwardIntoF32(make([]float32, 12), 1, 4, out, 7)
	if !errors.As(err, &e) || e.Status != StatusShape {
		t.Fatalf("out_steps 7 for valid padding: %v", err)
	}
	for _, v := range out {
		if v != 7 {
			t.Fatalf("a failed forward wrote the output: %v", out)
		}
	}
	err = l.SetActivation("glu")
	if !errors.As(err, &e) || e.Status != StatusUnsupported || !strings.Contains(e.Message, "glu") {
		t.Fatalf("glu: %v", err)
	}
}

func TestWeightsRoundTripInBothLayouts(t *testing.T) {
	const ch, f, g, k = 4, 6, 2, 3
	l, err := NewLayer(f, k)
	must(t, err)
	defer l.Close()
	must(t, l.SetGroups(g))
	must(t, l.SetDtype(Float64))
	w := uniform(rand.New(rand.NewSource(5)), ch*(f/g)*k, false)
	bias := []float64{0, 1, 2, 3, 4, 5}
	must(t, l.SetWeightsF64(ch, PyTorch, w, bias))
	kernel, gotBias, err := l.GetWeightsF64(PyTorch)
	must(t, err)
	if fmt.Sprint(kernel) != fmt.Sprint(w) || fmt.Sprint(gotBias) != fmt.Sprint(bias) {
		t.Fatal("the PyTorch-layout kernel or the bias did not round-trip")
	}
	keras, _, err := l.GetWeightsF64(Keras)
	must(t, err)
	if fmt.Sprint(keras) != fmt.Sprint(woiFromIOW(w, ch, f, g, k)) {
		t.Fatal("the Keras layout is not the PyTorch kernel regrouped")
	}
	if _, _, err := l.GetWeightsF32(Keras); err == nil {
		t.Fatal("GetWeightsF32 on a float64 layer succeeded")
	}
}

func TestSetPadsChangesNothingOnError(t *testing.T) {
	l, err := NewLayer(2, 5)
	must(t, err)
	defer l.Close()
	must(t, l.SetPads(2, 1))
	if n, _ := l.OutputSteps(4); n != 3+5-3 {
		t.Fatalf("OutputSteps = %d with pads 2, 1", n)
	}
	must(t, l.SetPadding(PaddingSame))
	if err := l.SetPads(7, -1); err == nil {
		t.Fatal("SetPads(7, -1) succeeded")
	}
	p, _ := l.GetInt(ParamPadding)
	b, _ := l.GetInt(ParamPadBegin)
	e, _ := l.GetInt(ParamPadEnd)
	if Padding(p) != PaddingSame || b != 2 || e != 1 {
		t.Fatalf("after a failed SetPads: padding %d, pads %d, %d", p, b, e)
	}
}

func TestClosedLayerReturnsAnError(t *testing.T) {
	l, err := NewLayer(2, 5)
	must(t, err)
	must(t, l.SetName("up"))
	if name, _ := l.Name(); name != "up" || l.String() != "convt.Layer(up, filters=2, kernel_size=5)" {
		t.Fatalf("name %q, String %q", name, l.String())
	}
	l.Close()
	l.Close()
	var e *Error
	if _, err := l.Filters(); !errors.As(err, &e) || e.Status != StatusInvalidArgument {
		t.Fatalf("Filters on a closed layer: %v", err)
	}
	if Version() != "1.0.0" || VersionNumber() != 10000 {
		t.Fatalf("version %s %d", Version(), VersionNumber())
	}
}

// Many goroutines fail at once, each with its own numbers: every message read must be the
// one its own call stored, which holds only if it is read on the call's OS thread.
func TestEachGoroutineReadsItsOwnMessage(t *testing.T) {
	l, err := NewLayer(8, 5)
	must(t, err)
	defer l.Close()
	must(t, l.SetStrides(2))
	must(t, l.InitWeights(4, 9))
	x := make([]float32, 2*50*4)
	want, err := l.ForwardF32(x, 2, 50, 0)
	must(t, err)
	var wg sync.WaitGroup
	failures := make(chan string, 64)
	for k := 0; k < 64; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			for r := 0; r < 20; r++ {
				steps := int64(1000 + 100*k + r)
				_, err := l.ForwardF32(x, 2, steps, 0)
				expected := fmt.Sprint(2 * steps * 4)
				if err == nil || !strings.Contains(err.Error(), expected) {
					failures <- fmt.Sprintf("steps %d: %v", steps, err)
					return
				}
				y, err := l.ForwardF32(x, 2, 50, 0)
				if err != nil || fmt.Sprint(y) != fmt.Sprint(want) {
					failures <- fmt.Sprintf("forward from goroutine %d: %v", k, err)
					return
				}
			}
		}(k)
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// Linear: <y - b, g> = <x, dL/dx> = <W, dL/dW>, and dL/db sums g over batch and steps.
func TestBackwardIsTheAdjointOfForward(t *testing.T) {
	const n, ch, f, g, k, l = 2, 4, 6, 2, 5, 9
	layer, err := NewLayer(f, k)
	must(t, err)
	defer layer.Close()
	must(t, layer.SetDtype(Float64))
	must(t, layer.SetGroups(g))
	must(t, layer.SetStrides(3))
	must(t, layer.SetPads(2, 1))
	rng := rand.New(rand.NewSource(3))
	w := uniform(rng, k*f*(ch/g), false)
	b := uniform(rng, f, false)
	must(t, layer.SetWeightsF64(ch, Keras, w, b))
	x := uniform(rng, n*l*ch, false)
	out, err := layer.OutputSteps(l)
	must(t, err)
	y, err := layer.ForwardF64(x, n, l, 0)
	must(t, err)
	gy := uniform(rng, n*out*f, false)
	grads, err := layer.BackwardF64(x, n, l, gy, out, Keras)
	must(t, err)
	yNoBias := make([]float64, len(y))
	for i := range y {
		yNoBias[i] = y[i] - b[i%f] // channels_last: filters last
	}
	want := dot(yNoBias, gy)
	close := func(got float64) bool { return math.Abs(got-want) <= 1e-10*math.Max(1, math.Abs(want)) }
	if !close(dot(x, grads.Input)) || !close(dot(w, grads.Kernel)) {
		t.Fatalf("adjoint: <y-b,g> = %g, <x,gx> = %g, <w,gw> = %g", want, dot(x, grads.Input),
			dot(w, grads.Kernel))
	}
	for o := 0; o < f; o++ {
		sum := 0.0
		for i := o; i < len(gy); i += f {
			sum += gy[i]
		}
		if math.Abs(grads.Bias[o]-sum) > 1e-10*math.Max(1, math.Abs(sum)) {
			t.Fatalf("grad_bias[%d] = %g, want %g", o, grads.Bias[o], sum)
		}
	}
	must(t, layer.SetInt(ParamTrainable, 0))
	frozen, err := layer.BackwardF64(x, n, l, gy, out, Keras)
	must(t, err)
	if frozen.Kernel != nil || frozen.Bias != nil || fmt.Sprint(frozen.Input) != fmt.Sprint(grads.Input) {
		t.Fatal("a frozen layer's backward differs from the input gradient alone")
	}
	var e *Error
	if _, err := layer.BackwardF64(x, n, l, x, out, Keras); !errors.As(err, &e) || e.Status != StatusShape {
		t.Fatalf("grad_output of the wrong length: %v", err)
	}
}

func TestPenaltiesAndConstraintsFollowTheFormulas(t *testing.T) {
	layer, err := NewLayer(3, 2)
	must(t, err)
	defer layer.Close()
	must(t, layer.SetDtype(Float64))
	must(t, layer.SetInt(ParamKernelRegularizer, int64(RegularizerL2)))
	must(t, layer.SetDouble(ParamKernelRegularizerL2, 0.5))
	must(t, layer.SetString(ParamActivityRegularizer, "l1"))
	must(t, layer.SetInt(ParamKernelConstraint, int64(ConstraintNonNeg)))
	must(t, layer.SetWeightsF64(1, Keras, []float64{1, -2, 3, -4, 5, -6}, []float64{0, 0, 0}))
	loss, err := layer.RegularizationLoss()
	must(t, err)
	if math.Abs(loss-0.5*91) > 1e-12 {
		t.Fatalf("regularization loss %g", loss)
	}
	penalty, err := layer.ActivityRegularizationF64([]float64{1, -1, 2, -2, 3, -3}, 2, 1)
	must(t, err)
	if math.Abs(penalty-0.01*12/2) > 1e-15 {
		t.Fatalf("activity penalty %g", penalty)
	}
	if bytes, err := layer.WorkspaceSize(1, 4, 5); err != nil || bytes < 0 {
		t.Fatalf("workspace %d: %v", bytes, err)
	}
	must(t, layer.ApplyConstraints())
	kernel, _, err := layer.GetWeightsF64(Keras)
	must(t, err)
	if fmt.Sprint(kernel) != "[1 0 3 0 5 0]" {
		t.Fatalf("non_neg kept %v", kernel)
	}
}

func TestStreamChunksConcatenateToTheWholeOutput(t *testing.T) {
	const n, ch, f, k, l = 2, 3, 2, 5, 23
	layer, err := NewLayer(f, k)
	must(t, err)
	defer layer.Close()
	must(t, layer.SetStrides(2))
	must(t, layer.SetPadding(PaddingSame))
	must(t, layer.SetDataFormat(ChannelsFirst))
	// Small integers: every sum is exact in float32, so chunked and whole agree bitwise.
	rng := rand.New(rand.NewSource(8))
	ints := func(count int) []float32 {
		v := make([]float32, count)
		for i := range v {
			v[i] = float32(rng.Intn(7) - 3)
		}
		return v
	}
	must(t, layer.SetWeightsF32(ch, Keras, ints(k*f*ch), ints(f)))
	x := ints(n * ch * l)
	whole, err := layer.ForwardF32(x, n, l, 0)
	must(t, err)
	stream, err := layer.NewStream(n)
	must(t, err)
	defer stream.Close()
	rows := make([][]float32, n*f) // (item, filter) rows
	take := func(chunk []float32) {
		steps := len(chunk) / (n * f)
		for r := range rows {
			rows[r] = append(rows[r], chunk[r*steps:(r+1)*steps]...)
		}
	}
	done := 0
	for _, steps := range []int{1, 4, 0, 7, 11} {
		var chunk []float32 // (n, ch, steps) cut from x
		for i := 0; i < n*ch; i++ {
			chunk = append(chunk, x[i*l+done:i*l+done+steps]...)
		}
		y, err := stream.PushF32(chunk, int64(steps))
		must(t, err)
		take(y)
		done += steps
	}
	rest, err := stream.FlushF32()
	must(t, err)
	take(rest)
	var streamed []float32
	for _, r := range rows {
		streamed = append(streamed, r...)
	}
	if fmt.Sprint(streamed) != fmt.Sprint(whole) {
		t.Fatalf("streamed %v\nwhole    %v", streamed, whole)
	}
	var e *Error
	if _, err := stream.PushF64(make([]float64, n*ch), 1); !errors.As(err, &e) || e.Status != StatusState {
		t.Fatalf("f64 push on a float32 stream: %v", err)
	}
	must(t, stream.Reset())

	empty, err := NewLayer(2, 3)
	must(t, err)
	defer empty.Close()
	if _, err := empty.NewStream(1); !errors.As(err, &e) || e.Status != StatusState {
		t.Fatalf("a stream without weights: %v", err)
	}
}
